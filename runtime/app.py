"""The one app factory: each service hands in its routes and handler table; this wires the rest."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col

from contracts import DEAD_LETTER_TOPIC, topic_for
from runtime.audit.routes import audit_router
from runtime.auth import Principal, require, system_token
from runtime.bus.embedded import FeedFollower
from runtime.bus.kafka import KafkaFollower, KafkaPublisher
from runtime.checkpoints import checkpoint_if_due, signing_key
from runtime.clock import Clock, new_id
from runtime.consumer import Consumer, Handler
from runtime.db import make_engine, make_sessionmaker, migrate
from runtime.errors import NotFound, install_error_handlers
from runtime.logs import configure_logging, correlation_id
from runtime.metrics import Metrics
from runtime.models import Checkpoint, DeadLetter, LogState, OutboxRow
from runtime.outbox import Relay, UnitOfWork
from runtime.settings import Settings

log = structlog.get_logger("closeloop.app")

Task = Callable[["Runtime"], Coroutine[Any, Any, None]]
AUDIT_READERS = require("auditor", "system")
DEAD_LETTER_READERS = require("admin", "auditor", "system")


@dataclass
class ServiceSpec:
    """What a service brings: its name, routes, handler table, the peers it follows, background tasks."""

    name: str
    routers: list[APIRouter]
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    follows: tuple[str, ...] = ()
    tasks: list[Task] = field(default_factory=list)
    description: str = ""


@dataclass
class Runtime:
    """Everything a request or handler of a service needs, built once in the lifespan."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    metrics: Metrics
    relay: Relay
    publisher: KafkaPublisher | None = None
    consumer: Consumer | None = None
    followers: list[Any] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    @asynccontextmanager
    async def unit_of_work(self, principal: Principal, *, role: str | None = None) -> AsyncIterator[UnitOfWork]:
        """One transaction for a command; its events commit with it and the relay is woken after."""
        async with self.sessions() as session, session.begin():
            yield UnitOfWork(
                session=session,
                service=self.settings.service,
                actor=principal.actor(role),
                correlation_id=correlation_id.get() or new_id(),
                causation_id=None,
                clock=self.clock,
            )
        self.relay.poke()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads."""
        async with self.sessions() as session:
            yield session


QUIET_ROUTES = frozenset({"/healthz", "/metrics", "/v1/logs/{name}"})

def get_runtime(request: Request) -> Runtime:
    """FastAPI dependency: the service's runtime."""
    return request.app.state.runtime


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


def build_app(spec: ServiceSpec, settings: Settings, *, clock: Clock | None = None, follow: bool = True) -> FastAPI:
    """A FastAPI app for one service, with health, metrics, its log, error shape, bus and relay.

    `follow=False` builds the consumer but starts no follower (tests hand it events directly).
    """
    configure_logging(level=settings.log_level, json=settings.log_json, service=spec.name)
    metrics = Metrics(spec.name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.db_url())
        await migrate(engine, spec.name)
        sessions = make_sessionmaker(engine)
        publisher: KafkaPublisher | None = None
        if settings.bus == "kafka":
            publisher = KafkaPublisher(settings.kafka_bootstrap, client_id=f"closeloop-{spec.name}")
        topic = settings.kafka_prefix + topic_for(spec.name)

        async def publish(rows: list[OutboxRow]) -> None:
            assert publisher is not None
            await publisher.send_rows(topic, rows)

        clock_ = clock or Clock()

        private_key = signing_key(service=spec.name, configured=settings.checkpoint_key or None,
                                  db_url=engine.url, data_dir=settings.data_dir)

        async def checkpoint(session: AsyncSession, state: Any) -> None:
            await checkpoint_if_due(session, state=state, now=clock_.now(), service=spec.name, key=private_key)

        async def sign_tail() -> bool:
            # When events stop arriving the newest ones still get a checkpoint within about a second.
            async with sessions() as session, session.begin():
                state = (await session.execute(select(LogState).where(col(LogState.id) == 1))).scalar_one_or_none()
                if state is None:
                    return True
                await checkpoint(session, state)
                signed = (await session.execute(select(func.max(col(Checkpoint.size))))).scalar_one_or_none()
                return (signed or 0) >= state.position

        relay = Relay(sessions, publish=publish if publisher else None, interval=settings.poll_interval,
                      on_sequenced=metrics.log_position.set, after_sequence=checkpoint, on_idle=sign_tail)
        rt = Runtime(settings=settings, engine=engine, sessions=sessions, clock=clock_,
                     metrics=metrics, relay=relay, publisher=publisher)
        app.state.runtime = rt
        tasks: list[asyncio.Task[Any]] = [asyncio.create_task(relay.run(), name="relay")]
        if spec.follows:
            rt.consumer = Consumer(name=spec.name, service=spec.name, sessions=sessions, handlers=spec.handlers,
                                   clock=rt.clock, attempts=settings.handler_attempts, backoff=settings.retry_backoff,
                                   after_commit=relay.poke, metrics=metrics)
            if not follow:
                pass
            elif publisher is not None:
                follower = KafkaFollower(rt.consumer, bootstrap=settings.kafka_bootstrap,
                                         topics=[settings.kafka_prefix + topic_for(p) for p in spec.follows],
                                         group=f"{settings.kafka_prefix}closeloop-{spec.name}",
                                         publisher=publisher,
                                         dead_letter_topic=settings.kafka_prefix + DEAD_LETTER_TOPIC)
                rt.followers.append(follower)
                tasks.append(asyncio.create_task(follower.run(), name="kafka-follower"))
            else:
                token = system_token(settings)
                for peer in spec.follows:
                    if peer == spec.name:
                        continue
                    ff = FeedFollower(rt.consumer, feed=peer, base_url=settings.peer_url(peer), token=token,
                                      interval=settings.poll_interval)
                    rt.followers.append(ff)
                    tasks.append(asyncio.create_task(ff.run(), name=f"follow-{peer}"))
        for task in spec.tasks:
            tasks.append(asyncio.create_task(task(rt), name=getattr(task, "__name__", "task")))
        log.info("service_started", bus=settings.bus, database=engine.url.render_as_string(hide_password=True))
        try:
            yield
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if publisher is not None:
                await publisher.stop()
            await engine.dispose()
            log.info("service_stopped")

    app = FastAPI(title=f"Closed Loop — {spec.name}", description=spec.description, version="1",
                  lifespan=lifespan)
    app.state.settings = settings
    app.state.spec = spec
    app.state.metrics = metrics
    install_error_handlers(app)

    @app.middleware("http")
    async def context(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        cid = request.headers.get("x-correlation-id", "")[:200] or new_id()
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
