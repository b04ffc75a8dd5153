"""One service's runtime, wired without a web framework: engine, sessions, relay, consumer, followers, tasks.

`start_runtime(spec, settings)` is the one place that builds it; the FastAPI app (runtime.app) runs it in its
lifespan, and handler tests run it alone (in-process, no app, no HTTP).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col

from contracts import DEAD_LETTER_TOPIC, topic_for
from runtime.auth import Principal, system_token
from runtime.bus.embedded import FeedFollower
from runtime.bus.kafka import KafkaFollower, KafkaPublisher
from runtime.checkpoints import checkpoint_if_due, signing_key
from runtime.clock import Clock, new_id
from runtime.consumer import Consumer, HandlerTable
from runtime.db import make_engine, make_read_engine, make_sessionmaker
from runtime.lease import AdvisoryLease
from runtime.logs import correlation_id
from runtime.metrics import Metrics
from runtime.migrations import migrate
from runtime.models import Checkpoint, LogState, OutboxRow
from runtime.outbox import Relay, UnitOfWork
from runtime.settings import Settings

if TYPE_CHECKING:  # the routes are FastAPI's; building a runtime needs none of it
    from fastapi import APIRouter

log = structlog.get_logger("closeloop.runtime")

Task = Callable[["Runtime"], Coroutine[Any, Any, None]]


@dataclass
class ServiceSpec:
    """What a service brings: its name, settings class, migrations, routes, handler table, peers, tasks."""

    name: str
    routers: Sequence[APIRouter]
    migrations: Path
    settings: type[Settings] = Settings
    handlers: HandlerTable = field(default_factory=HandlerTable)
    follows: tuple[str, ...] = ()
    tasks: Sequence[Task] = ()
    description: str = ""


@dataclass
class Runtime:
    """Everything a request or handler of a service needs; `settings` is the service's own Settings subclass."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    metrics: Metrics
    relay: Relay
    publisher: KafkaPublisher | None = None
    consumer: Consumer | None = None
    followers: list[KafkaFollower | FeedFollower] = field(default_factory=list)
    # Read-only sessions that never wait for a writer (SQLite: a second engine, deferred and query_only).
    read_sessions: async_sessionmaker[AsyncSession] | None = None

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
        """A session for reads: it sees a snapshot and never takes the write lock, so a long write (a big
        batch, an import) does not hold reads up; writing through it fails."""
        async with (self.read_sessions or self.sessions)() as session:
            yield session


def _relay(spec: ServiceSpec, settings: Settings, *, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession],
           clock: Clock, metrics: Metrics, publisher: KafkaPublisher | None) -> Relay:
    topic = settings.kafka_prefix + topic_for(spec.name)
    private_key = signing_key(service=spec.name, configured=settings.checkpoint_key or None,
                              db_url=engine.url, data_dir=settings.data_dir)

    async def publish(rows: list[OutboxRow]) -> None:
        assert publisher is not None
        try:
            await publisher.send_rows(topic, rows)
        except Exception:
            metrics.broker_up.labels(bus="kafka").set(0)
            raise
        metrics.broker_up.labels(bus="kafka").set(1)

    async def checkpoint(session: AsyncSession, state: LogState) -> None:
        await checkpoint_if_due(session, state=state, now=clock.now(), service=spec.name, key=private_key)

    async def sign_tail() -> bool:
        # When events stop arriving the newest ones still get a checkpoint within about a second.
        async with sessions() as session, session.begin():
            # locked like sequencing does: a checkpoint is signed by one transaction at a time, never twice
            state = (await session.execute(select(LogState).where(col(LogState.id) == 1).with_for_update()
                                           )).scalar_one_or_none()
            if state is None:
                return True
            await checkpoint(session, state)
            signed = (await session.execute(select(func.max(col(Checkpoint.size))))).scalar_one_or_none()
            return (signed or 0) >= state.position

    # replicas on one PostgreSQL database: only the lease holder sequences, signs and publishes
    lease = AdvisoryLease(engine, name=f"closeloop-relay:{spec.name}") if engine.dialect.name == "postgresql" \
        else None
    return Relay(sessions, publish=publish if publisher else None, interval=settings.poll_interval,
                 on_sequenced=metrics.log_position.set, after_sequence=checkpoint, on_idle=sign_tail, lease=lease)


def _followers(spec: ServiceSpec, settings: Settings, consumer: Consumer,
               publisher: KafkaPublisher | None) -> list[KafkaFollower | FeedFollower]:
    if publisher is not None:
        return [KafkaFollower(consumer, bootstrap=settings.kafka_bootstrap,
                              topics=[settings.kafka_prefix + topic_for(p) for p in spec.follows],
                              group=f"{settings.kafka_prefix}closeloop-{spec.name}", publisher=publisher,
                              dead_letter_topic=settings.kafka_prefix + DEAD_LETTER_TOPIC)]
    # a bounded token, renewed by system_token as it ages
    return [FeedFollower(consumer, feed=peer, base_url=settings.peer_url(peer), token=lambda: system_token(settings),
                         interval=settings.poll_interval)
            for peer in spec.follows if peer != spec.name]


@asynccontextmanager
async def start_runtime(spec: ServiceSpec, settings: Settings, *, clock: Clock | None = None,
                        metrics: Metrics | None = None, follow: bool = True,
                        background: bool = True) -> AsyncIterator[Runtime]:
    """Build and run one service's runtime until the block ends: migrate, relay, consumer, followers, tasks.

    `follow=False` builds the consumer but follows no peer (tests hand it events); `background=False` also
    starts no relay loop and no service task, so a test steps the relay itself (`rt.relay.sequence_once()`).
    """
    if not isinstance(settings, spec.settings):
        raise TypeError(f"the {spec.name} service needs {spec.settings.__name__}, got {type(settings).__name__}")
    if settings.service != spec.name:
        raise ValueError(f"settings are for the {settings.service} service, not {spec.name}")
    metrics = metrics or Metrics(spec.name)
    clock = clock or Clock()
    engine = make_engine(settings.db_url())
    read_engine = make_read_engine(settings.db_url())
    publisher: KafkaPublisher | None = None
    tasks: list[asyncio.Task[Any]] = []
    try:
        await migrate(engine, spec.name, spec.migrations)
        sessions = make_sessionmaker(engine)
        if settings.bus == "kafka":
            publisher = KafkaPublisher(settings.kafka_bootstrap, client_id=f"closeloop-{spec.name}")
        relay = _relay(spec, settings, engine=engine, sessions=sessions, clock=clock, metrics=metrics,
                       publisher=publisher)
        rt = Runtime(settings=settings, engine=engine, sessions=sessions, clock=clock, metrics=metrics,
                     relay=relay, publisher=publisher,
                     read_sessions=make_sessionmaker(read_engine) if read_engine is not None else None)
        if spec.follows:
            rt.consumer = Consumer(name=spec.name, service=spec.name, sessions=sessions, handlers=spec.handlers,
                                   clock=clock, attempts=settings.handler_attempts, backoff=settings.retry_backoff,
                                   after_commit=relay.poke, metrics=metrics)
            if follow:
                rt.followers = _followers(spec, settings, rt.consumer, publisher)
        if background:
            tasks.append(asyncio.create_task(relay.run(), name="relay"))
            tasks.extend(asyncio.create_task(f.run(), name=f"follower-{i}") for i, f in enumerate(rt.followers))
            tasks.extend(asyncio.create_task(task(rt), name=getattr(task, "__name__", "task")) for task in spec.tasks)
        log.info("service_started", bus=settings.bus, database=engine.url.render_as_string(hide_password=True))
        yield rt
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if publisher is not None:
            await publisher.stop()
        await engine.dispose()
        if read_engine is not None:
            await read_engine.dispose()
        log.info("service_stopped")
