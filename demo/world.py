"""The four services in one process on one settable clock, their feeds carried step by step.

Each service is the real app (`runtime.app.build_app` with its SPEC), on its SQLite file in the demo's data
folder, reached over an in-process ASGI transport. Consumers follow their peers with the embedded bus's own
`FeedFollower`, so their cursors are kept in their databases as `closeloop dev` keeps them; but the followers
are polled by `drain`, not by background tasks, and the notify scheduler runs by `tick` when the demo says so:
the order of work is the demo's, and the same seed gives the same log.

The documents the scheduler and the bulletins issue (.docx and .pdf) are rendered by notify's own
`render_pending`, in a worker process beside the campaign (`Renderer`) rather than in the tick: rendering is a
pure function of a committed record and writes nothing to any log, so the campaign need not wait for it, and
the second core does it meanwhile. `World.rendered` waits for the last of them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import multiprocessing
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import structlog
from fastapi import FastAPI

from runtime.app import Runtime, ServiceSpec, build_app
from runtime.auth import issue_token, system_token
from runtime.bus.embedded import FeedFollower
from runtime.clock import SHANGHAI, IdSource, SeededIds, SettableClock, reset_ids, use_ids
from runtime.settings import SERVICE_NAMES, Settings

log = structlog.get_logger("closeloop.demo")

TOKEN_TTL = 24 * 3600
SEQUENCE_BATCH = 500


@dataclass
class Service:
    """One in-process service: its app, its client and its settings."""

    name: str
    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings

    @property
    def rt(self) -> Runtime:
        """The service's runtime (built by its lifespan)."""
        runtime: Runtime = self.app.state.runtime
        return runtime


class Renderer:
    """Renders notify's pending documents in one worker process, a pass whenever `wanted` is called, one pass at a
    time (so a document is never rendered twice at once); `finish` runs a last pass and stops."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        # spawned, not forked: the demo's process has SQLite worker threads a fork would copy mid-flight
        self.pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        self._wanted = asyncio.Event()
        self._closing = False
        self._task = asyncio.create_task(self._run(), name="demo-renderer")

    async def _run(self) -> None:
        from services.notify.documents import render_pending

        executor: ProcessPoolExecutor | None = self.pool
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            try:
                await render_pending(self.rt, executor=executor)
            except BrokenExecutor as exc:  # the worker died: the rest is rendered here, as a tick would
                log.warning("demo_renderer_lost", error=repr(exc))
                executor = None
                self._wanted.set()
            if self._closing and not self._wanted.is_set():
                return

    def wanted(self) -> None:
        """Documents may be pending: render them when the pass under way (if any) is done."""
        self._wanted.set()

    async def finish(self) -> None:
        """Render whatever is still pending, then stop the worker."""
        self._closing = True
        self._wanted.set()
        try:
            await self._task
        finally:
            self.pool.shutdown(wait=True)

    def stop(self) -> None:
        """Stop without waiting (the demo is being torn down after an error)."""
        self._task.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class World:
    """The four services, the clock they share, and the followers that carry their logs."""

    clock: SettableClock
    services: dict[str, Service]
    followers: dict[str, list[tuple[FeedFollower, httpx.AsyncClient]]]
    ids: dict[str, IdSource]
    tokens: dict[tuple[str, str | None, str], dict[str, str]] = field(default_factory=dict)
    renderer: Renderer | None = None

    def at(self, moment: datetime) -> None:
        """Move the clock to a moment (never backwards: the log's times only grow)."""
        if moment < self.clock.now():
            raise ValueError(f"the demo clock cannot go back from {self.clock.now()} to {moment}")
        self.clock.set(moment)

    def local(self) -> datetime:
        """The clock's time in Asia/Shanghai."""
        return self.clock.now().astimezone(SHANGHAI)

    def auth(self, role: str, org: str | None, sub: str | None = None) -> dict[str, str]:
        """The Authorization header of a person of `org` acting in `role` (tokens are kept for reuse)."""
        key = (role, org, sub or "")
        if key not in self.tokens:
            settings = self.services["issues"].settings
            name = sub or f"{org or 'city'}-{role}"
            self.tokens[key] = {"Authorization": "Bearer " + issue_token(settings, sub=name, org=org, roles=[role],
                                                                          ttl=TOKEN_TTL)}
        return self.tokens[key]

    @contextmanager
    def acting(self, service: str) -> Iterator[None]:
        """Work done for `service` draws its ids from the service's own seeded source."""
        token = use_ids(self.ids[service])
        try:
            yield
        finally:
            reset_ids(token)

    async def _consume(self, name: str, grown: set[str]) -> int:
        with self.acting(name):
            moved = 0
            for follower, client in self.followers.get(name, []):
                if follower.feed in grown:
                    # a page short of the batch was the feed's end: only `drain` sequences, so nothing came
                    # after it this round (no empty poll to find that out)
                    while True:
                        n = await follower.poll_once(client)
                        moved += n
                        if n < follower.batch:
                            break
            return moved

    async def drain(self) -> int:
        """Sequence every log, then let every consumer read the peers whose logs grew, until nothing moves.

        The services' consumers run side by side (each on its own database); each reads its feeds in a fixed
        order, and what a feed holds is fixed for the round (only `drain` sequences: the relay loops are
        stopped), so the outcome is the same whatever the interleaving.
        """
        carried = 0
        while True:
            grown = await self._sequence(everyone=False)
            if not grown:
                return carried
            carried += sum(await asyncio.gather(*(self._consume(name, grown) for name in self.followers)))

    async def _sequence(self, *, everyone: bool) -> set[str]:
        """Sequence the logs that may have grown; the names of those that did.

        Every transaction that can write to a service's outbox (a request's or the scheduler's unit of work, a
        handled event) wakes its relay (`Relay.poke`), and nothing else writes there: a service whose relay
        was not woken since its last sequencing has nothing to sequence, and is not asked (each ask is a write
        transaction). `everyone` asks all of them regardless (the check at the end of the campaign)."""
        grown: set[str] = set()
        for name, service in self.services.items():
            relay = service.rt.relay
            if not (everyone or relay.wake.is_set()):
                continue
            relay.wake.clear()
            with self.acting(name):
                while n := await relay.sequence_once(SEQUENCE_BATCH):
                    grown.add(name)
                    if n < SEQUENCE_BATCH:  # the rest of the outbox is sequenced: no empty round to find that out
                        break
        return grown

    async def settle(self) -> None:
        """Drain, then make sure no log was left unsequenced by a write that did not wake its relay (which
        `drain` relies on); one that was is a bug in that assumption and stops the demo."""
        await self.drain()
        missed = await self._sequence(everyone=True)
        if missed:
            raise RuntimeError(f"events of {sorted(missed)} were written without waking the relay: drain would "
                               "have missed them; see World._sequence")

    async def sign_tails(self) -> None:
        """Sign a checkpoint over each log's newest events, as the relay does when the log falls quiet."""
        from sqlalchemy import select
        from sqlmodel import col

        from runtime.checkpoints import checkpoint_if_due, signing_key
        from runtime.models import LogState

        for name, service in self.services.items():
            rt = service.rt
            key = signing_key(service=name, configured=service.settings.checkpoint_key or None,
                              db_url=rt.engine.url, data_dir=service.settings.data_dir)
            async with rt.sessions() as session, session.begin():
                state = (await session.execute(select(LogState).where(col(LogState.id) == 1))).scalar_one_or_none()
                if state is not None:
                    await checkpoint_if_due(session, state=state, now=self.clock.now(), service=name, key=key)

    async def tick(self) -> dict[str, Any]:
        """What notify's scheduler does at the clock's now: reminders, weekly dispatch, half-year accounts; the
        documents pending then (these runs' and the bulletins' since the last tick) go to the renderer."""
        from services.notify.digests import tick

        rt = self.services["notify"].rt
        with self.acting("notify"):
            result: dict[str, Any] = await tick(rt, render=False)
        if self.renderer is None:
            self.renderer = Renderer(rt)
        self.renderer.wanted()
        return result

    async def rendered(self) -> None:
        """Wait until every document issued so far is rendered (and stop the renderer)."""
        if self.renderer is not None:
            renderer, self.renderer = self.renderer, None
            await renderer.finish()


def _settings(spec: ServiceSpec, data_dir: Path) -> Settings:
    """The service's own settings class, for the demo's folder."""
    return spec.settings.build(spec.name, env="development", data_dir=data_dir, bus="embedded", log_level="WARNING",
                               log_json=True, poll_interval=1.0, retry_backoff=0.05)


def _spec(name: str) -> ServiceSpec:
    spec: ServiceSpec = importlib.import_module(f"services.{name}.app").SPEC
    # notify's scheduler and delivery worker would run on wall-clock intervals; the demo ticks it itself
    return dataclasses.replace(spec, tasks=[]) if name == "notify" else spec


@asynccontextmanager
async def world(data_dir: Path, *, start: datetime, seed: int | None = None) -> AsyncIterator[World]:
    """The four services in-process over `data_dir`, on a clock set at `start`; ids seeded from `seed` if given."""
    clock = SettableClock(start)
    data_dir.mkdir(parents=True, exist_ok=True)
    async with AsyncExitStack() as stack:
        services: dict[str, Service] = {}
        for name in SERVICE_NAMES:
            spec = _spec(name)
            settings = _settings(spec, data_dir)
            app = build_app(spec, settings, clock=clock, follow=False)
            before = asyncio.all_tasks()
            await stack.enter_async_context(app.router.lifespan_context(app))
            # The relay's loop would sequence in the background, racing the demo for SQLite's write lock (and
            # losing time in its busy handler); `drain` sequences instead, so the loop is stopped.
            for task in asyncio.all_tasks() - before:
                if task.get_name() == "relay":
                    task.cancel()
            client = await stack.enter_async_context(httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url=f"http://{name}", timeout=120))
            services[name] = Service(name=name, app=app, client=client, settings=settings)
        followers: dict[str, list[tuple[FeedFollower, httpx.AsyncClient]]] = {}
        for name, service in services.items():
            consumer = service.rt.consumer
            if consumer is None:
                continue
            for peer in service.app.state.spec.follows:
                follower = FeedFollower(consumer, feed=peer, base_url=f"http://{peer}",
                                        token=system_token(service.settings), batch=1000)
                followers.setdefault(name, []).append((follower, services[peer].client))
        ids: dict[str, IdSource] = {name: SeededIds(f"{seed}/{name}") if seed is not None else IdSource()
                                    for name in services}
        w = World(clock=clock, services=services, followers=followers, ids=ids)
        try:
            yield w
        finally:
            if w.renderer is not None:  # left running only when the demo stopped early
                w.renderer.stop()
