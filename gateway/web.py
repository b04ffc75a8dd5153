"""The built web app: hashed assets cached for a year, index.html never cached, the SPA's paths fall back to it."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.errors import error_body

# Vite writes content-hashed file names under assets/: a changed file gets a new name.
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
NOT_BUILT = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>闭环</title>
<p>网页应用尚未构建。请运行 <code>make run</code>（或在 web/ 中运行 <code>npm ci &amp;&amp; npm run build</code>）。</p>
<p>The web app is not built yet: run <code>make run</code>.</p></html>"""


def content_security_policy(*, issuer: str = "", origin: str | None = None) -> str:
    """The CSP of every answer: everything from this origin only; the identity provider's for sign-in."""
    provider = ""
    if origin is not None:
        provider = f" {origin}"
    elif issuer:
        parts = urlsplit(issuer)
        provider = f" {parts.scheme}://{parts.netloc}"
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        # Element Plus and ECharts set style attributes at run time.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        f"connect-src 'self'{provider}",
        f"form-action 'self'{provider}",
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    ])


def security_headers(*, issuer: str = "") -> list[tuple[bytes, bytes]]:
    """Headers every answer of the gateway carries (nginx sends the same, see gateway/nginx.py)."""
    return [(k.encode(), v.encode()) for k, v in [
        ("content-security-policy", content_security_policy(issuer=issuer)),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "same-origin"),
        # Field capture records position and photos; nothing else of the device is used.
        ("permissions-policy", "geolocation=(self), camera=(self), microphone=(), payment=()"),
        ("cross-origin-opener-policy", "same-origin"),
    ]]


class SecurityHeaders:
    """ASGI middleware adding the security headers to every answer without touching its body (streams pass)."""

    def __init__(self, app: ASGIApp, *, headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.headers = headers
        self.names = {k for k, _ in headers}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to the response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in self.names]
                message["headers"] = kept + self.headers
            await send(message)

        await self.app(scope, receive, sending)


class WebApp:
    """Files of the built app, looked up safely inside its folder."""

    def __init__(self, dist: Path) -> None:
        self.dist = dist.resolve()

    def _file(self, path: str) -> Path | None:
        candidate = (self.dist / path.lstrip("/")).resolve()
        if not candidate.is_relative_to(self.dist) or not candidate.is_file():
            return None
        return candidate

    def answer(self, path: str) -> Response:
        """A file of the app, or index.html for the app's own paths; 404 for a missing asset."""
        index = self.dist / "index.html"
        if not index.is_file():
            return HTMLResponse(NOT_BUILT, status_code=503, headers={"Cache-Control": NO_CACHE, "Retry-After": "30"})
        found = self._file(path) if path not in ("", "/") else None
        if found is not None and found.name != "index.html":
            cache = IMMUTABLE if found.relative_to(self.dist).parts[0] == "assets" else NO_CACHE
            return FileResponse(found, headers={"Cache-Control": cache})
        last = path.rsplit("/", 1)[-1]
        if path.startswith("/assets/") or ("." in last and not last.endswith(".html")):
            # A file that is not there: answering it with the index page would hand HTML to a <script>.
            return Response(
                content=json.dumps(error_body("not_found", f"文件不存在 / no such file: {path}"), ensure_ascii=False),
                status_code=404, media_type="application/json", headers={"Cache-Control": NO_CACHE})
        return FileResponse(index, headers={"Cache-Control": NO_CACHE}, media_type="text/html; charset=utf-8")

