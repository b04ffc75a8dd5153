"""The one app factory: a service's routes over its runtime (runtime.bootstrap), with health, metrics, its log."""

from __future__ import annotations

import gc
import hmac
import ipaddress
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select, text
from sqlmodel import col
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]  # ships no type information

from runtime.answers import DeadLetterOut, HealthOut, LogPageOut, ReadyOut, RedriveOut
from runtime.auth import Principal, require
from runtime.bootstrap import Runtime, ServiceSpec, Task, start_runtime
from runtime.clock import Clock, new_id
from runtime.consumer import Consumer
from runtime.errors import Forbidden, NotFound, error_responses, install_error_handlers
from runtime.log_routes import audit_router
from runtime.logs import configure_logging, correlation_id
from runtime.metrics import Metrics
from runtime.migrations import migration_head
from runtime.models import DeadLetter, LogState, OutboxRow
from runtime.pagination import Key, Page, fetch_page
from runtime.settings import Settings

__all__ = ["Runtime", "ServiceSpec", "Task", "build_app", "get_runtime"]

log = structlog.get_logger("closeloop.app")

AUDIT_READERS = require("auditor", "system")
DEAD_LETTER_READERS = require("admin", "auditor", "system")
DEAD_LETTER_DRIVERS = require("admin", "system")


QUIET_ROUTES = frozenset({"/healthz", "/metrics", "/v1/logs/{name}"})
# A correlation id goes into every envelope of the hash-chained log: printable ASCII, no spaces, short.
_CORRELATION = re.compile(r"^[\x21-\x7e]{1,64}$")


def safe_correlation_id(value: str) -> str:
    """The client's X-Correlation-ID when it is 1–64 printable ASCII characters, else a new id."""
    return value if _CORRELATION.match(value) else new_id()


async def get_runtime(request: Request) -> Runtime:
    """FastAPI dependency: the service's runtime. `async`: FastAPI runs a plain `def` dependency in a worker thread,
    a thread hop on every request of every route for reading one attribute."""
    rt: Runtime = request.app.state.runtime
    return rt


def _log_router(service: str) -> APIRouter:
    router = APIRouter(tags=["audit"])

    @router.get("/v1/logs/{name}", summary="This service's event log in commit order (auditor)",
                responses=error_responses(401, 403, 404, 422))
    async def read_log(
        name: str,
        after: int = Query(0, ge=0, description="last position already read"),
        limit: int = Query(100, ge=1, le=1000),
        rt: Runtime = Depends(get_runtime),
        _: Principal = Depends(AUDIT_READERS),
    ) -> LogPageOut:
        if name != service:
            raise NotFound(f"this is the {service} service; its log is at /v1/logs/{service}")
        async with rt.read() as session:
            rows = (await session.execute(
                select(col(OutboxRow.position), col(OutboxRow.log_hash), col(OutboxRow.envelope))
                .where(col(OutboxRow.position) > after)
                .order_by(col(OutboxRow.position))
                .limit(limit + 1)
            )).all()
            state = (await session.execute(select(col(LogState.position), col(LogState.published))
                                           .where(col(LogState.id) == 1))).first()
        items = [{"position": p, "log_hash": h, "event": json.loads(e)} for p, h, e in rows[:limit]]
        head, published = (int(state[0]), int(state[1])) if state is not None else (0, 0)
        return LogPageOut.model_validate(
            {"items": items, "next_cursor": str(items[-1]["position"]) if len(rows) > limit else None,
             "head": head, "published": published if rt.publisher is not None else None})

    @router.get("/v1/dead-letters", summary="Messages this service could not handle (admin, auditor)",
                responses=error_responses(401, 403, 422))
    async def dead_letters(
        limit: int = Query(100, ge=1, le=1000),
        cursor: str | None = None,
        rt: Runtime = Depends(get_runtime),
        _: Principal = Depends(DEAD_LETTER_READERS),
    ) -> Page[DeadLetterOut]:
        async with rt.read() as session:
            rows, nxt = await fetch_page(session, select(DeadLetter), [Key(col(DeadLetter.id), "id", int)],
                                         cursor=cursor, limit=limit)
        return Page(items=[DeadLetterOut.model_validate(r.model_dump()) for r in rows], next_cursor=nxt)

    def _consumer(rt: Runtime) -> Consumer:
        if rt.consumer is None:
            raise NotFound("本服务不消费事件，没有死信 / this service consumes no events, so it has no dead letters")
        return rt.consumer

    @router.post("/v1/dead-letters/{dead_letter_id}/redrive",
                 summary="Hand one dead letter to the consumer again and mark it redriven (admin)",
                 description="重新投递一条死信：事件再次交给消费者处理，记录结果。已处理过的事件由收件箱去重，"
                             "不会重复生效；已重新投递的死信原样返回 (idempotent: an event handled already is a "
                             "duplicate for the inbox; a row redriven already is returned as it is)",
                 responses=error_responses(401, 403, 404, 422))
    async def redrive_one(
        dead_letter_id: int,
        rt: Runtime = Depends(get_runtime),
        _: Principal = Depends(DEAD_LETTER_DRIVERS),
    ) -> DeadLetterOut:
        row = await _consumer(rt).redrive(dead_letter_id)
        if row is None:
            raise NotFound(f"没有编号为 {dead_letter_id} 的死信 / no dead letter {dead_letter_id}: list them at "
                           "GET /v1/dead-letters")
        return DeadLetterOut.model_validate(row.model_dump())

    @router.post("/v1/dead-letters/redrive",
                 summary="Hand every dead letter not redriven yet to the consumer again, oldest first (admin)",
                 description="重新投递所有尚未重新投递的死信（每次最多 `limit` 条）/ redrive every dead letter not "
                             "redriven yet, at most `limit` a call",
                 responses=error_responses(401, 403, 404, 422))
    async def redrive_all(
        limit: int = Query(100, ge=1, le=1000),
        rt: Runtime = Depends(get_runtime),
        _: Principal = Depends(DEAD_LETTER_DRIVERS),
    ) -> RedriveOut:
        consumer = _consumer(rt)
        rows = [row for i in await consumer.waiting_dead_letters(limit) if (row := await consumer.redrive(i))]
        return RedriveOut(items=[DeadLetterOut.model_validate(r.model_dump()) for r in rows])

    return router


class RequestContext:
    """Each HTTP request: its correlation id (X-Correlation-ID, or a new one) for its logs and events, its
    metrics, its log line, and the headers every answer carries. Plain ASGI rather than `@app.middleware("http")`
    (BaseHTTPMiddleware), which costs a task group and a memory stream per request."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-correlation-id"), b"")
        cid = safe_correlation_id(given.decode("latin-1"))
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"x-correlation-id"]
                names = {k.lower() for k, _ in headers}
                headers.append((b"x-correlation-id", cid.encode("latin-1")))
                # Answers are data: never sniffed into another type, never framed by another page.
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if b"x-frame-options" not in names:
                    headers.append((b"x-frame-options", b"DENY"))
                message = {**message, "headers": headers}
            await send(message)

        token = correlation_id.set(cid)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            correlation_id.reset(token)
        path = getattr(scope.get("route"), "path", "unmatched")
        elapsed = time.perf_counter() - started
        self.metrics.requests(method=scope["method"], route=path, status=str(status)).inc()
        self.metrics.latency.labels(route=path).observe(elapsed)
        if path not in QUIET_ROUTES:
            log.info("request", method=scope["method"], path=scope["path"], status=status,
                     ms=round(elapsed * 1000, 1), correlation_id=cid)


async def broker_checks(rt: Runtime) -> dict[str, str]:
    """The broker and the relay (kafka mode), also setting closeloop_broker_up; in embedded mode nothing to check."""
    if rt.publisher is None:
        return {"broker": "ok"}  # the embedded bus is the service's own database
    reachable = await rt.publisher.ping()
    rt.metrics.broker_up.labels(bus="kafka").set(1 if reachable else 0)
    return {"broker": "ok" if reachable else "unreachable",
            "relay": "ok" if rt.relay.failures < 3 else f"failing ({rt.relay.failures} attempts)"}


DOCS_ASSETS = "/docs/assets"


def metrics_reader(settings: Settings, request: Request) -> bool:
    """Whether the caller may read /metrics: it sends the ops token, or it asks from an allowed address."""
    if settings.metrics_token:
        scheme, _, sent = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), settings.metrics_token.encode()):
            return True
    host = request.client.host if request.client is not None else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in settings.metrics_allow)


def freeze_startup_heap() -> None:
    """Keep what a service process has loaded to start (modules, classes, schemas, its app: ≈ 150,000 objects that
    live as long as the process) out of the garbage collector's full passes, which otherwise walk all of it again
    every few thousand allocations: ≈ 200 ms each on a loaded 2-core machine, in the middle of a batch or a
    request (the consumer bench measured 20-30 % less CPU per event). Collects first, so no garbage is kept."""
    gc.collect()
    gc.freeze()


def build_app(spec: ServiceSpec, settings: Settings, *, clock: Clock | None = None, follow: bool = True,
              background: bool = True) -> FastAPI:
    """A FastAPI app for one service, with health, metrics, its log, error shape, bus and relay.

    The lifespan runs `start_runtime`; `follow=False` builds the consumer but starts no follower (tests hand it
    events directly), `background=False` starts no relay loop and no service task (tests step the relay).
    """
    configure_logging(level=settings.log_level, json=settings.log_json, service=spec.name)
    metrics = Metrics(spec.name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with start_runtime(spec, settings, clock=clock, metrics=metrics, follow=follow,
                                 background=background) as rt:
            app.state.runtime = rt
            metrics.relay_failures.set_function(lambda: rt.relay.failures)
            yield

    app = FastAPI(title=f"Closed Loop — {spec.name}", description=spec.description, version="1",
                  lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.spec = spec
    app.state.migration_head = migration_head(spec.name, spec.migrations)
    app.state.metrics = metrics
    install_error_handlers(app)

    app.add_middleware(RequestContext, metrics=metrics)

    @app.get("/healthz", tags=["ops"], summary="Alive")
    async def healthz() -> HealthOut:
        return HealthOut(status="ok", service=spec.name)

    @app.get("/readyz", tags=["ops"], response_model=ReadyOut,
             summary="Ready to take requests: database reachable and migrated (?broker=1: the broker and relay too)",
             description="就绪检查：数据库可达且迁移已完成。消息代理中断时写入仍进入发件箱，服务照常接收请求，所以默认"
                         "不检查代理；`?broker=1` 另外检查代理和转发 (the broker is checked only when asked: writes go "
                         "to the outbox while it is down, so a broker outage must not take the API out of a load "
                         "balancer)",
             responses={**error_responses(422),
                        503: {"model": ReadyOut, "description": "未就绪 (not ready: which check failed)"}})
    async def readyz(request: Request,
                     broker: bool = Query(False, description="also check the broker and the relay")) -> JSONResponse:
        rt: Runtime = request.app.state.runtime
        checks: dict[str, str] = {}
        try:
            async with rt.read() as session:
                at = (await session.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
            checks["database"] = "ok"
            expected = request.app.state.migration_head
            checks["migrations"] = "ok" if expected in at else (
                f"数据库迁移未完成 / the database is at {', '.join(at) or 'no revision'}, this code needs {expected}")
        except Exception as exc:  # noqa: BLE001 — any failure means not ready, and says why
            checks["database"] = f"failed: {type(exc).__name__}: {str(exc)[:200]}"
        if broker:
            checks.update(await broker_checks(rt))
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"], response_class=Response,
             summary="Prometheus metrics (the ops token, or an address of CLOSELOOP_METRICS_ALLOW)",
             responses={200: {"description": "Prometheus 文本格式 (text exposition format)",
                              "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}},
                        **error_responses(403)})
    async def metrics_endpoint(request: Request) -> Response:
        if not metrics_reader(settings, request):
            raise Forbidden(
                "监控指标只对运维开放：请带上运维令牌（CLOSELOOP_METRICS_TOKEN）或从允许的地址（CLOSELOOP_METRICS_ALLOW）"
                "访问 / /metrics is for operators: send the ops token as a bearer token, or ask from an address of "
                "CLOSELOOP_METRICS_ALLOW")
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        # Swagger UI from the pinned swagger-ui-bundle-v2 package, served by the service itself: no CDN.
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"Closed Loop — {spec.name} — API",
                                   swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png")

    app.mount(DOCS_ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    app.include_router(_log_router(spec.name))
    app.include_router(audit_router(spec.name))
    for router in spec.routers:
        app.include_router(router)
    return app
