"""The gateway app: the built web app at `/`, the four services behind it by path prefix, sign-in config."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from gateway.proxy import Proxy
from gateway.routes import SERVICES, is_api_path, resolve
from gateway.settings import GatewaySettings
from gateway.signin import OrgDirectory, config_router, dev_router
from gateway.web import SecurityHeaders, WebApp, security_headers
from runtime.errors import error_body, install_error_handlers
from runtime.logs import configure_logging

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def create_app(settings: GatewaySettings, *, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """The gateway for these settings; `transport` lets tests put the services in-process."""
    if settings.env == "production" and not settings.oidc_issuer:
        raise ValueError("CLOSELOOP_OIDC_ISSUER must be set in production: people sign in with OpenID Connect")
    configure_logging(level=settings.log_level, json=settings.log_json, service="gateway")
    upstreams = {name: settings.peer_url(name) for name in SERVICES}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        proxy = Proxy(upstreams=upstreams, timeout=settings.gateway_timeout,
                      max_body=settings.gateway_max_body_bytes, transport=transport)
        app.state.proxy = proxy
        app.state.orgs = OrgDirectory(settings, proxy.client)
        try:
            yield
        finally:
            await proxy.aclose()

    app = FastAPI(title="Closed Loop — gateway", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.settings = settings
    install_error_handlers(app)
    web = WebApp(settings.web_dist)

    @app.get("/healthz", tags=["ops"], summary="Alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "gateway"}

    @app.get("/readyz", tags=["ops"], summary="Ready: every service behind the gateway is ready")
    async def readyz(request: Request) -> JSONResponse:
        client: httpx.AsyncClient = request.app.state.proxy.client

        async def check(name: str) -> str:
            try:
                answer = await client.get(f"{upstreams[name]}/readyz", timeout=3)
            except httpx.HTTPError as exc:
                return f"unreachable: {type(exc).__name__}"
            return "ok" if answer.status_code == 200 else f"not ready ({answer.status_code})"

        results = await asyncio.gather(*(check(n) for n in SERVICES))
        checks = dict(zip(SERVICES, results, strict=True))
        ok = all(v == "ok" for v in checks.values())
        headers = None if ok else {"Retry-After": "5"}
        return JSONResponse({"status": "ready" if ok else "not_ready", "checks": checks},
                            status_code=200 if ok else 503, headers=headers)

    app.include_router(config_router())
    if settings.env == "development":
        app.include_router(dev_router())

    @app.api_route("/{path:path}", methods=ALL_METHODS, include_in_schema=False)
    async def everything_else(request: Request, path: str) -> Any:
        url_path = request.url.path
        route = resolve(url_path)
        if route is not None:
            return await request.app.state.proxy.forward(request, route)
        if is_api_path(url_path):
            return JSONResponse(error_body("not_found", f"没有这个接口 / no such endpoint: {url_path}"),
                                status_code=404)
        if request.method not in ("GET", "HEAD"):
            return JSONResponse(error_body("method_not_allowed", f"{request.method} {url_path}"), status_code=405,
                                headers={"Allow": "GET, HEAD"})
        answer: Response = web.answer(url_path)
        return answer

    app.add_middleware(SecurityHeaders, headers=security_headers(issuer=settings.oidc_issuer))
    return app
