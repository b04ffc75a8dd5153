"""Reverse proxy to the services: streams both ways, drops hop-by-hop headers, passes the correlation id."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import structlog
from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from gateway.routes import Route
from runtime.errors import error_body

# RFC 9110 §7.6.1: meaningful for one connection only, never forwarded.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "trailers", "transfer-encoding", "upgrade", "proxy-connection"})
RETRY_AFTER_SECONDS = 5
log = structlog.get_logger("closeloop.gateway")


def _hop_by_hop(raw: list[tuple[bytes, bytes]]) -> set[str]:
    named = {t.strip().lower() for k, v in raw if k.lower() == b"connection"
             for t in v.decode("latin-1").split(",")}
    return set(HOP_BY_HOP) | named


def unavailable(service: str, why: str) -> JSONResponse:
    """The design's error shape for a service that cannot be reached: 503 with Retry-After."""
    log.warning("service_unreachable", service=service, reason=why)
    body = error_body(
        "service_unavailable",
        f"{service} 服务暂时无法访问，请稍后重试 / the {service} service cannot be reached; try again shortly",
        [{"service": service, "reason": why}],
    )
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


class BodyTooLarge(Exception):
    """The request body exceeded the gateway's bound while streaming."""


class Proxy:
    """Forwards a request to the service a route names, streaming body and answer."""

    def __init__(self, *, upstreams: dict[str, str], timeout: float, max_body: int,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.upstreams = {name: url.rstrip("/") for name, url in upstreams.items()}
        self.max_body = max_body
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=5.0, pool=10.0), follow_redirects=False, trust_env=False,
            transport=transport, limits=httpx.Limits(max_connections=200, max_keepalive_connections=40),
        )

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self.client.aclose()

    async def _body(self, request: Request) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > self.max_body:
                raise BodyTooLarge
            yield chunk

    def _request_headers(self, request: Request, correlation: str) -> list[tuple[bytes, bytes]]:
        raw = list(request.headers.raw)
        drop = _hop_by_hop(raw) | {"host", "x-correlation-id", "x-forwarded-for", "x-forwarded-proto",
                                   "x-forwarded-host"}
        headers = [(k, v) for k, v in raw if k.decode("latin-1").lower() not in drop]
        client = request.client.host if request.client else ""
        headers += [(b"x-correlation-id", correlation.encode("latin-1")),
                    (b"x-forwarded-for", client.encode("latin-1")),
                    (b"x-forwarded-proto", request.url.scheme.encode("latin-1")),
                    (b"x-forwarded-host", request.headers.get("host", "").encode("latin-1"))]
        return headers

    async def forward(self, request: Request, route: Route) -> Response:
        """Send the request to its service and stream the answer back."""
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return JSONResponse(error_body(
                "payload_too_large",
                f"请求内容超过 {self.max_body // (1024 * 1024)} MiB 的上限 / the request body exceeds "
                f"{self.max_body} bytes", [{"field": "body", "message": "too large"}]), status_code=413)
        correlation = request.headers.get("x-correlation-id", "")[:200] or str(uuid.uuid4())
        # The path as the client sent it (percent-encoding kept), unless it spelt the prefix encoded.
        raw_path = request.scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0]
        path = raw_path if route.matches(raw_path) else quote(request.url.path)
        url = self.upstreams[route.service] + route.upstream_path(path)
        if request.url.query:
            url += "?" + request.url.query
        has_body = request.method not in ("GET", "HEAD", "OPTIONS", "DELETE") or length not in (None, "0")
        upstream = self.client.build_request(
            request.method, url,
            headers=self._request_headers(request, correlation),
            content=self._body(request) if has_body else None,
        )
        try:
            answer = await self.client.send(upstream, stream=True)
        except BodyTooLarge:
            return JSONResponse(error_body(
                "payload_too_large", f"请求内容超过上限 / the request body exceeds {self.max_body} bytes",
                [{"field": "body", "message": "too large"}]), status_code=413)
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
                return unavailable(route.service, f"connect timeout: {exc}")
            return JSONResponse(error_body(
                "gateway_timeout", f"{route.service} 服务响应超时，请稍后重试 / the {route.service} service "
                "did not answer in time", [{"service": route.service}]), status_code=504)
        except httpx.TransportError as exc:
            return unavailable(route.service, f"{type(exc).__name__}: {exc}")
        raw = list(answer.headers.raw)
        drop = _hop_by_hop(raw) | {"server", "date"}
        response = StreamingResponse(answer.aiter_raw(), status_code=answer.status_code,
                                     background=BackgroundTask(answer.aclose))
        response.raw_headers = [(k, v) for k, v in raw if k.decode("latin-1").lower() not in drop]
        if "x-correlation-id" not in answer.headers:
            response.raw_headers.append((b"x-correlation-id", correlation.encode("latin-1")))
        return response
