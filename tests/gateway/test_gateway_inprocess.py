"""The gateway on its own: streaming both ways, a service that is down, the web app's files, environments."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from gateway.app import create_app
from gateway.settings import GatewaySettings
from runtime.settings import SERVICE_NAMES


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app on a free loopback port within this event loop."""
    port = closed_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def gateway_settings(dist: Path, upstream: str | None = None, **overrides: Any) -> GatewaySettings:
    urls = {f"{n}_url": upstream or f"http://127.0.0.1:{closed_port()}" for n in SERVICE_NAMES}
    return GatewaySettings(**{"env": "test", "web_dist": dist, "data_dir": dist.parent / "gateway-data",
                              "log_json": False, **urls, **overrides})


class SlowUpstream:
    """A stand-in service that shows whether the gateway streams: it answers in two parts, reads in parts."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.first_chunk = asyncio.Event()
        self.received = 0
        self.headers: dict[str, str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        self.headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        if scope["method"] == "POST":
            while True:
                message = await receive()
                self.received += len(message.get("body", b""))
                if self.received:
                    self.first_chunk.set()
                if not message.get("more_body"):
                    break
            body = str(self.received).encode()
            await send({"type": "http.response.start", "status": 201,
                        "headers": [(b"content-type", b"text/plain"), (b"connection", b"close, x-secret"),
                                    (b"x-secret", b"hop")]})
            await send({"type": "http.response.body", "body": body})
            return
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")]})
        await send({"type": "http.response.body", "body": b"PK-first-part", "more_body": True})
        await self.release.wait()
        await send({"type": "http.response.body", "body": b"-second-part"})


async def test_a_download_reaches_the_client_before_the_service_has_finished(minimal_dist: Path) -> None:
    upstream = SlowUpstream()
    async with serving(upstream) as up, serving(create_app(gateway_settings(minimal_dist, up))) as gw, \
            httpx.AsyncClient(trust_env=False, timeout=10) as client, \
            client.stream("GET", f"{gw}/v1/bulletins/b1/xlsx") as r:
        chunks = r.aiter_raw()
        first = await asyncio.wait_for(chunks.__anext__(), timeout=5)
        assert first == b"PK-first-part"  # the service is still holding back the rest
        upstream.release.set()
        rest = b"".join([c async for c in chunks])
    assert rest == b"-second-part"


async def test_an_upload_reaches_the_service_while_the_client_is_still_sending(minimal_dist: Path) -> None:
    upstream = SlowUpstream()

    async def body() -> AsyncIterator[bytes]:
        yield b"x" * 65536
        # A gateway that buffered the whole body would never pass this first part on before the rest.
        await asyncio.wait_for(upstream.first_chunk.wait(), timeout=5)
        for _ in range(16):
            yield b"y" * 65536

    async with serving(upstream) as up, serving(create_app(gateway_settings(minimal_dist, up))) as gw, \
            httpx.AsyncClient(trust_env=False, timeout=10) as client:
        r = await client.post(f"{gw}/v1/evidence", content=body(),
                              headers={"Content-Type": "application/octet-stream", "Connection": "keep-alive",
                                       "X-Correlation-ID": "up-1", "Proxy-Authorization": "Basic eDp5"})
    assert r.status_code == 201 and r.text == str(17 * 65536)
    assert upstream.headers["x-correlation-id"] == "up-1" and upstream.headers["x-forwarded-for"] == "127.0.0.1"
    assert "proxy-authorization" not in upstream.headers
    # Hop-by-hop headers of the answer, and those it names in Connection, stay behind.
    assert "x-secret" not in r.headers and "close" not in r.headers.get("connection", "")


async def test_a_body_over_the_bound_is_refused_before_it_reaches_a_service(minimal_dist: Path) -> None:
    upstream = SlowUpstream()
    settings = gateway_settings(minimal_dist, "", gateway_max_body_bytes=1000)
    async with serving(upstream) as up, serving(create_app(settings.model_copy(update={
            f"{n}_url": up for n in SERVICE_NAMES}))) as gw, httpx.AsyncClient(trust_env=False) as client:
        r = await client.post(f"{gw}/v1/evidence", content=b"z" * 5000)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    assert upstream.received == 0


async def client_for(settings: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        yield client


@pytest.fixture
async def down(minimal_dist: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_for(gateway_settings(minimal_dist)):
        yield client


async def test_a_service_that_is_down_answers_503_in_the_error_shape_chinese_first(down: httpx.AsyncClient) -> None:
    r = await down.get("/v1/inbox")
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    error = r.json()["error"]
    assert error["code"] == "service_unavailable" and error["details"][0]["service"] == "notify"
    assert re.match(r"notify [\u4e00-\u9fff]", error["message"]), error["message"]
    ready = await down.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["issues"].startswith("unreachable")


async def test_the_web_app_falls_back_to_its_index_and_caches_only_hashed_assets(down: httpx.AsyncClient) -> None:
    for path in ("/", "/issues/HH-01", "/auth/callback", "/leader/cockpit?district=新城区"):
        r = await down.get(path)
        assert r.status_code == 200 and "闭环" in r.text and r.headers["cache-control"] == "no-cache", path
    asset = await down.get("/assets/probe-3f2a9c1b.js")
    assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
    assert "javascript" in asset.headers["content-type"]
    for missing in ("/assets/gone-1234.js", "/favicon-missing.png", "/assets/%2e%2e/%2e%2e/gateway/app.py",
                    "/%2e%2e/pyproject.toml"):
        r = await down.get(missing)
        assert r.status_code == 404 and "closeloop" not in r.text, missing
    assert (await down.post("/somewhere")).status_code == 405


async def test_every_answer_carries_the_security_headers_and_no_outside_origin(down: httpx.AsyncClient) -> None:
    for path in ("/", "/v1/inbox", "/auth/config"):
        r = await down.get(path)
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "http" not in csp, csp  # no CDN, no other origin
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"


async def test_the_identity_provider_is_the_only_other_origin_allowed(minimal_dist: Path) -> None:
    settings = gateway_settings(minimal_dist, oidc_issuer="https://id.example.gov.cn/realms/city/",
                                oidc_audience="closeloop-web", oidc_client_id="closeloop-web", demo=True)
    async for client in client_for(settings):
        config = (await client.get("/auth/config")).json()
        assert config == {"mode": "oidc", "issuer": "https://id.example.gov.cn/realms/city/",
                          "client_id": "closeloop-web", "demo": True}
        csp = (await client.get("/")).headers["content-security-policy"]
        assert "connect-src 'self' https://id.example.gov.cn;" in csp


@pytest.mark.parametrize("env", ["test", "production"])
async def test_the_development_sign_in_does_not_exist_outside_development(minimal_dist: Path, env: str) -> None:
    extra = {"jwt_secret": "s" * 40, "checkpoint_key": "k", "database_url": "postgresql+asyncpg://x/y",
             "oidc_issuer": "https://id.example.gov.cn/", "oidc_audience": "web"} if env == "production" else {}
    async for client in client_for(gateway_settings(minimal_dist, env=env, **extra)):
        for method, path in (("GET", "/auth/dev/orgs"), ("POST", "/auth/dev/token")):
            r = await client.request(method, path, json={"org": "city-eeb", "roles": ["admin"], "sub": "a"})
            assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", (method, path)


def test_production_without_an_identity_provider_is_refused(minimal_dist: Path) -> None:
    with pytest.raises(ValueError, match="CLOSELOOP_OIDC_ISSUER"):
        create_app(gateway_settings(minimal_dist, env="production", jwt_secret="s" * 40, checkpoint_key="k",
                                    database_url="postgresql+asyncpg://x/y"))


async def test_a_missing_build_says_how_to_build_it(tmp_path: Path) -> None:
    async for client in client_for(gateway_settings(tmp_path / "nothing")):
        r = await client.get("/")
        assert r.status_code == 503 and "make run" in r.text
