"""The one app factory: a service's routes over its runtime (runtime.bootstrap), with health, metrics, its log."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select, text
from sqlmodel import col

from runtime.auth import Principal, require
from runtime.bootstrap import Runtime, ServiceSpec, Task, start_runtime
from runtime.clock import Clock
from runtime.errors import NotFound, install_error_handlers
from runtime.log_routes import audit_router
from runtime.logs import configure_logging, correlation_id
from runtime.metrics import Metrics
from runtime.models import DeadLetter, OutboxRow
from runtime.settings import Settings

__all__ = ["Runtime", "ServiceSpec", "Task", "build_app", "get_runtime"]

log = structlog.get_logger("closeloop.app")

AUDIT_READERS = require("auditor", "system")
DEAD_LETTER_READERS = require("admin", "auditor", "system")


QUIET_ROUTES = frozenset({"/healthz", "/metrics", "/v1/logs/{name}"})


def get_runtime(request: Request) -> Runtime:
    """FastAPI dependency: the service's runtime."""
    rt: Runtime = request.app.state.runtime
    return rt


def _log_router(service: str) -> APIRouter:
    router = APIRouter(tags=["audit"])

    @router.get("/v1/logs/{name}", summary="This service's event log in commit order (auditor)")
    async def read_log(
        name: str,
        after: int = Query(0, ge=0, description="last position already read"),
        limit: int = Query(100, ge=1, le=1000),
        rt: Runtime = Depends(get_runtime),
        _: Principal = Depends(AUDIT_READERS),
    ) -> dict[str, Any]:
        if name != service:
            raise NotFound(f"this is the {service} service; its log is at /v1/logs/{service}")
        async with rt.read() as session:
            rows = (await session.execute(
                select(col(OutboxRow.position), col(OutboxRow.log_hash), col(OutboxRow.envelope))
                .where(col(OutboxRow.position) > after)
                .order_by(col(OutboxRow.position))
                .limit(limit)
            )).all()
        items = [{"position": p, "log_hash": h, "event": json.loads(e)} for p, h, e in rows]
        return {"items": items, "next_cursor": str(items[-1]["position"]) if len(items) == limit else None}

    @router.get("/v1/dead-letters", summary="Messages this service could not handle (admin, auditor)")
    async def dead_letters(
        limit: int = Query(100, ge=1, le=1000),
        rt: Runtime = Depends(get_runtime),
        _: Principal = Depends(DEAD_LETTER_READERS),
    ) -> dict[str, Any]:
        async with rt.read() as session:
            rows = (
                await session.execute(select(DeadLetter).order_by(col(DeadLetter.id)).limit(limit))
            ).scalars().all()
        return {"items": [r.model_dump(mode="json") for r in rows], "next_cursor": None}

    return router


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
            yield

    app = FastAPI(title=f"Closed Loop — {spec.name}", description=spec.description, version="1",
                  lifespan=lifespan)
    app.state.settings = settings
    app.state.spec = spec
    app.state.metrics = metrics
    install_error_handlers(app)

    @app.middleware("http")
    async def context(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        cid = request.headers.get("x-correlation-id", "")[:200] or str(uuid.uuid4())
        token = correlation_id.set(cid)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            correlation_id.reset(token)
        path = getattr(request.scope.get("route"), "path", "unmatched")
        elapsed = time.perf_counter() - started
        metrics.requests(method=request.method, route=path, status=str(response.status_code)).inc()
        metrics.latency.labels(route=path).observe(elapsed)
        response.headers["X-Correlation-ID"] = cid
        if path not in QUIET_ROUTES:
            log.info("request", method=request.method, path=request.url.path, status=response.status_code,
                     ms=round(elapsed * 1000, 1), correlation_id=cid)
        return response

    @app.get("/healthz", tags=["ops"], summary="Alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": spec.name}

    @app.get("/readyz", tags=["ops"], summary="Ready: database and bus reachable")
    async def readyz(request: Request) -> JSONResponse:
        rt: Runtime = request.app.state.runtime
        checks: dict[str, str] = {}
        try:
            async with rt.read() as session:
                await session.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 — any failure means not ready, and says why
            checks["database"] = f"failed: {exc}"
        if rt.publisher is not None:
            checks["kafka"] = "ok" if await rt.publisher.ping() else "unreachable"
        checks["relay"] = "ok" if rt.relay.failures < 3 else f"failing ({rt.relay.failures} attempts)"
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics")
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(_log_router(spec.name))
    app.include_router(audit_router(spec.name))
    for router in spec.routers:
        app.include_router(router)
    return app
