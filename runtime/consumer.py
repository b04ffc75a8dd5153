"""Idempotent event handling: inbox, retries with backoff, dead letters. One code path for both buses."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import structlog
from pydantic import BaseModel, ValidationError
from sqlalchemy import exc as sa_exc
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from contracts import Envelope
from contracts.registry import is_known, key_of, latest_version, parse_data
from runtime.clock import Clock
from runtime.db import is_sqlite_statement_fault
from runtime.logs import correlation_id
from runtime.models import DeadLetter, FeedCursor, InboxRow, ParkedEvent
from runtime.outbox import UnitOfWork

log = structlog.get_logger("closeloop.consumer")

P = TypeVar("P", bound=BaseModel)
Handler = Callable[[UnitOfWork, Envelope, Any], Awaitable[None]]
#: The set-based form of a handler: a run of consecutive events of a batch, each with its own unit of work (all on
#: the batch's one session), in the order they arrived.
ManyHandler = Callable[[Sequence[tuple[UnitOfWork, Envelope, Any]]], Awaitable[None]]
Before = Callable[[Envelope], None]
KeyOf = Callable[[Any], str]


@dataclass(frozen=True)
class Route:
    """One row of a handler table: the payload class, its handler, and the parked key it releases (if any)."""

    model: type[BaseModel]
    handler: Handler
    releases: KeyOf | None = None
    many: ManyHandler | None = None


class HandlerTable:
    """A service's handlers, each registered for an event CLASS and called with that payload type.

    The envelope's type names the class (contracts.registry); `releases` names the key of the events parked
    until this one arrives (e.g. issue.registered releases what was parked under its issue).
    """

    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}

    def add(self, model: type[P], handler: Callable[[UnitOfWork, Envelope, P], Awaitable[None]], *,
            releases: Callable[[P], str] | None = None,
            many: Callable[[Sequence[tuple[UnitOfWork, Envelope, P]]], Awaitable[None]] | None = None) -> None:
        """Register `handler` for the newest version of the event `model` is.

        `many`, when given, is the same handler for a run of events at once: a batch (`Consumer.process_many`)
        hands every run of consecutive events whose routes share one `many` to a single call. It must leave
        exactly the state that calling `handler` on each event in order leaves (a test compares the two)."""
        type_, version = key_of(model)
        if version != latest_version(type_):
            raise ValueError(f"{model.__name__} is {type_} v{version}, not the newest version: handle the newest")
        if type_ in self._routes:
            raise ValueError(f"{type_} has a handler already")
        self._routes[type_] = Route(model=model, handler=handler, releases=releases, many=many)

    def on(self, model: type[P], *, releases: Callable[[P], str] | None = None
           ) -> Callable[[Callable[[UnitOfWork, Envelope, P], Awaitable[None]]],
                         Callable[[UnitOfWork, Envelope, P], Awaitable[None]]]:
        """Decorator form of `add`."""
        def wrap(fn: Callable[[UnitOfWork, Envelope, P], Awaitable[None]]
                 ) -> Callable[[UnitOfWork, Envelope, P], Awaitable[None]]:
            self.add(model, fn, releases=releases)
            return fn
        return wrap

    def replacing(self, model: type[P], handler: Callable[[UnitOfWork, Envelope, P], Awaitable[None]]
                  ) -> HandlerTable:
        """A copy of the table with `model`'s handler replaced (its release key kept, its set-based form dropped,
        so the replacement sees every event); for tests and tools."""
        copy = HandlerTable()
        copy._routes = dict(self._routes)
        type_ = key_of(model)[0]
        old = copy._routes.get(type_)
        copy._routes[type_] = Route(model=model, handler=handler, releases=old.releases if old else None)
        return copy

    def replacing_many(self, type_: str, many: Callable[[Sequence[tuple[UnitOfWork, Envelope, Any]]], Awaitable[None]]
                       ) -> HandlerTable:
        """A copy of the table in which the set-based form registered for `type_`, on every route that shares it,
        is `many` (e.g. the old one wrapped to count the runs it is handed); for tests and tools. The table itself,
        shared by every instance of the service in the process, is left as it is."""
        route = self._routes.get(type_)
        if route is None or route.many is None:
            raise ValueError(f"{type_} has no set-based form to replace")
        copy = HandlerTable()
        copy._routes = {t: replace(r, many=many) if r.many is route.many else r
                        for t, r in self._routes.items()}
        return copy

    def get(self, type_: str) -> Route | None:
        """The route of an event type, or None when the service ignores it."""
        return self._routes.get(type_)

    def types(self) -> list[str]:
        """The event types handled, in registration order."""
        return list(self._routes)

    def models(self) -> list[type[BaseModel]]:
        """The payload classes handled, in registration order."""
        return [r.model for r in self._routes.values()]

    def __contains__(self, type_: object) -> bool:
        return type_ in self._routes

    def __len__(self) -> int:
        return len(self._routes)


class Poison(Exception):
    """A message that can never be handled as it is (bad envelope, bad hash, bad payload)."""


class Park(Exception):
    """Raised by a handler, before it writes anything, when its event is about something this service does not
    know yet (`key`, e.g. `issue:<id>`): the consumer keeps the event and applies it when a handler whose route
    `releases` that key has run, in that handler's transaction. Nothing is skipped, whatever the topics' order."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = reason


def issue_key(issue_id: str) -> str:
    """The parking key of events waiting for an issue."""
    return f"issue:{issue_id}"


@dataclass
class Outcome:
    status: str  # handled, parked, duplicate, ignored, dead
    event_id: str | None = None
    error: str | None = None


DeadLetterSink = Callable[[dict[str, Any]], Awaitable[None]]

# Errors of the database driver or the network, not of the event: the database unreachable, locked or restarting,
# a connection cut, a broker gone, a time-out. Retried until the infrastructure is back, never dead-lettered.
_INFRA_MODULES = ("asyncpg", "aiokafka", "aiosqlite", "sqlite3", "httpx", "httpcore", "socket", "ssl")


def is_infrastructure(exc: BaseException) -> bool:
    """Whether `exc` (or an exception it was raised from) is an outage of the database, broker or network rather
    than something wrong with the event or a handler: only the latter may dead-letter an event."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (Poison, Park)) or is_sqlite_statement_fault(current):
            return False
        if isinstance(current, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError,
                                sa_exc.TimeoutError, ConnectionError, TimeoutError, OSError)):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        module = type(current).__module__.split(".")[0]
        if module in _INFRA_MODULES and not isinstance(current, (sa_exc.IntegrityError, sa_exc.DataError,
                                                                   ValueError)):
            name = type(current).__name__
            # asyncpg's connection errors; its constraint/data errors are the event's (content)
            if module != "asyncpg" or any(w in name for w in ("Connection", "CannotConnect", "Shutdown",
                                                              "TooManyConnections", "Interface", "Timeout")):
                return True
        current = current.__cause__ or current.__context__
    return False


class Consumer:
    """Runs the service's handler table over incoming envelopes, exactly once in effect."""

    def __init__(
        self,
        *,
        name: str,
        service: str,
        sessions: async_sessionmaker[AsyncSession],
        handlers: HandlerTable,
        clock: Clock,
        attempts: int = 4,
        backoff: float = 0.1,
        max_backoff: float = 5.0,
        after_commit: Callable[[], None] | None = None,
        metrics: Any = None,
    ) -> None:
        self.name = name
        self.service = service
        self.sessions = sessions
        self.handlers = handlers
        self.clock = clock
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.after_commit = after_commit
        self.metrics = metrics
        self.dead_letter_sink: DeadLetterSink | None = None

    def decode(self, raw: str | bytes | dict[str, Any]) -> Envelope:
        """Parse and check one envelope; anything wrong with it is poison."""
        try:
            data = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
            envelope = Envelope.model_validate(data)
        except (ValueError, ValidationError) as exc:
            raise Poison(f"malformed envelope: {exc}") from exc
        if not envelope.hash_ok():
            raise Poison(f"hash mismatch for event {envelope.id}: the envelope was altered")
        return envelope

    async def process(self, raw: str | bytes | dict[str, Any], *, origin: str, feed: str | None = None,
                      position: int | None = None, before: Before | None = None) -> Outcome:
        """Handle one message: an outage of the database or broker is retried with capped backoff until it is
        over (never dead-lettered); an error of the event or its handler is retried `attempts` times, then
        dead-lettered, and this returns only once the dead letter's row is committed (so a caller moving its
        offset or cursor past the event does so after the row is durable).

        `before(envelope)` runs ahead of the handler (the audit replay sets its clock to the event's time)."""
        event_id: str | None = None
        event_type: str | None = None
        error = ""
        attempt = 0
        outage = 0
        while True:
            try:
                envelope = self.decode(raw)
                event_id, event_type = str(envelope.id), envelope.type
                if before is not None:
                    before(envelope)
                outcome = await self._handle_once(envelope, feed=feed, position=position)
                if outage:
                    log.info("infrastructure_back", consumer=self.name, event_id=event_id, retries=outage)
                self._count(outcome.status)
                return outcome
            except Poison as exc:
                error = str(exc)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — retried, then dead-lettered with the error
                error = f"{type(exc).__name__}: {exc}"
                if is_infrastructure(exc):
                    outage += 1
                    await self._wait_out(outage, event_id=event_id, event_type=event_type, error=error)
                    continue
                attempt += 1
                self._retried("content")
                log.warning("handler_failed", consumer=self.name, event_id=event_id, type=event_type,
                            attempt=attempt, error=error)
                if attempt >= self.attempts:
                    break
                await asyncio.sleep(self.backoff * (2 ** (attempt - 1)))
        await self._dead_letter(raw, origin=origin, event_id=event_id, event_type=event_type, error=error,
                                feed=feed, position=position)
        self._count("dead")
        return Outcome("dead", event_id, error)

    async def _wait_out(self, outage: int, *, event_id: str | None, event_type: str | None, error: str) -> None:
        """One pause of an infrastructure outage: capped exponential backoff, logged at the first try and then
        every tenth, counted every time."""
        self._retried("infrastructure")
        if outage == 1 or outage % 10 == 0:
            log.warning("infrastructure_unavailable", consumer=self.name, event_id=event_id, type=event_type,
                        retries=outage, error=error[:300])
        await asyncio.sleep(min(self.max_backoff, self.backoff * (2 ** min(outage - 1, 16))))

    async def process_many(self, raws: Sequence[str | bytes | dict[str, Any]], *, origins: Sequence[str],
                           before: Before | None = None, feed: str | None = None,
                           positions: Sequence[int] | None = None) -> list[Outcome]:
        """Handle messages in order, all in ONE transaction with their inbox rows: the effects of every handler,
        the events they emit (outbox) and the inbox rows commit together or not at all.

        When anything in the batch goes wrong (a message that does not decode, a handler that fails or parks
        its event, a commit refused), nothing of the batch stays, and every message is handled again one by
        one with `process`: retries, parking and dead letters are exactly as for single messages.
        A caller that commits offsets does so after this returns, i.e. after the commit; a feed's cursor
        (`feed`, one of `positions` per message) advances in the batch's transaction, as `process` advances it."""
        if len(raws) != len(origins) or (positions is not None and len(positions) != len(raws)):
            raise ValueError("one origin (and one position, if given) per message")
        at = list(positions) if positions is not None else [None] * len(raws)
        if len(raws) > 1:
            try:
                outcomes = await self._batch(raws, before, feed=feed, position=max(positions) if positions else None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — the batch is rolled back; each message is retried alone
                log.info("batch_split", consumer=self.name, size=len(raws), error=f"{type(exc).__name__}: {exc}")
            else:
                for outcome in outcomes:
                    self._count(outcome.status)
                return outcomes
        return [await self.process(raw, origin=origin, before=before, feed=feed, position=pos)
                for raw, origin, pos in zip(raws, origins, at, strict=True)]

    async def _batch(self, raws: Sequence[str | bytes | dict[str, Any]], before: Before | None, *,
                     feed: str | None = None, position: int | None = None) -> list[Outcome]:
        envelopes = [self.decode(raw) for raw in raws]
        outcomes: list[Outcome] = []
        inbox: list[dict[str, Any]] = []
        async with self.sessions() as session, session.begin():
            ids = [str(e.id) for e in envelopes if e.type in self.handlers]
            seen: set[str] = set()
            for i in range(0, len(ids), 500):
                seen.update((await session.execute(
                    select(col(InboxRow.event_id)).where(col(InboxRow.consumer) == self.name,
                                                         col(InboxRow.event_id).in_(ids[i:i + 500]))
                )).scalars().all())
            run: list[tuple[UnitOfWork, Envelope, BaseModel]] = []
            for envelope in envelopes:
                event_id = str(envelope.id)
                route = self.handlers.get(envelope.type)
                if route is None:
                    outcomes.append(Outcome("ignored", event_id))
                    continue
                if event_id in seen:
                    outcomes.append(Outcome("duplicate", event_id))
                    continue
                seen.add(event_id)
                payload = self._payload(envelope)
                if before is not None:
                    before(envelope)
                if run and (route.many is None or self._route(run[-1][1]).many is not route.many):
                    await self._run_many(session, run)
                    run = []
                if route.many is not None:
                    run.append((self._uow(session, envelope), envelope, payload))
                else:
                    token = correlation_id.set(envelope.correlation_id)
                    try:
                        await self._run(self._uow(session, envelope), envelope, route, payload)
                    finally:
                        correlation_id.reset(token)
                inbox.append({"consumer": self.name, "event_id": event_id, "type": envelope.type,
                              "processed_at": self.clock.now()})
                outcomes.append(Outcome("handled", event_id))
            if run:
                await self._run_many(session, run)
            if inbox:  # one statement for the batch's inbox rows, in its transaction
                await session.execute(insert(InboxRow), inbox)
            if feed is not None and position is not None:
                await self._advance(session, feed, position)
        if self.after_commit and any(o.status == "handled" for o in outcomes):
            self.after_commit()
        return outcomes

    def _count(self, status: str) -> None:
        if self.metrics is not None:
            self.metrics.consumed.labels(consumer=self.name, outcome=status).inc()

    def _retried(self, kind: str) -> None:
        if self.metrics is not None:
            self.metrics.consumer_retries.labels(consumer=self.name, kind=kind).inc()

    async def _handle_once(self, envelope: Envelope, *, feed: str | None, position: int | None) -> Outcome:
        route = self.handlers.get(envelope.type)
        event_id = str(envelope.id)
        token = correlation_id.set(envelope.correlation_id)  # the handler's logs carry the request's id
        try:
            return await self._in_transaction(envelope, route, event_id, feed=feed, position=position)
        finally:
            correlation_id.reset(token)

    async def _in_transaction(self, envelope: Envelope, route: Route | None, event_id: str, *,
                              feed: str | None, position: int | None) -> Outcome:
        try:
            return await self._attempt(envelope, route, event_id, feed=feed, position=position, lock=None)
        except Park as park:
            # Nothing of the first try stays. Again, holding the key's lock: a release committed meanwhile is seen,
            # and one still under way waits for this transaction and then finds the event parked.
            return await self._attempt(envelope, route, event_id, feed=feed, position=position, lock=park.key)

    def _payload(self, envelope: Envelope) -> BaseModel:
        if not is_known(envelope.type):
            raise Poison(f"unknown event type {envelope.type}")
        try:
            return parse_data(envelope.type, envelope.version, envelope.data)
        except (ValidationError, KeyError) as exc:
            raise Poison(f"payload of {envelope.type} v{envelope.version} does not validate: {exc}") from exc

    def _uow(self, session: AsyncSession, envelope: Envelope) -> UnitOfWork:
        return UnitOfWork(session=session, service=self.service, actor=envelope.actor,
                          correlation_id=envelope.correlation_id, causation_id=str(envelope.id), clock=self.clock)

    async def _attempt(self, envelope: Envelope, route: Route | None, event_id: str, *, feed: str | None,
                       position: int | None, lock: str | None) -> Outcome:
        status = "handled"
        async with self.sessions() as session, session.begin():
            if feed is not None and position is not None:
                await self._advance(session, feed, position)
            if route is None:
                return Outcome("ignored", event_id)
            seen = await session.get(InboxRow, (self.name, event_id))
            if seen is not None:
                return Outcome("duplicate", event_id)
            payload = self._payload(envelope)
            if lock is not None:
                await self._lock(session, lock)
            try:
                await self._run(self._uow(session, envelope), envelope, route, payload)
            except Park as park:
                if lock is None:
                    raise
                if park.key != lock:
                    await self._lock(session, park.key)
                session.add(ParkedEvent(consumer=self.name, key=park.key, event_id=event_id, type=envelope.type,
                                        envelope=envelope.to_json(), reason=park.reason, parked_at=self.clock.now()))
                log.info("event_parked", consumer=self.name, event_id=event_id, type=envelope.type, key=park.key)
                status = "parked"
            session.add(InboxRow(consumer=self.name, event_id=event_id, type=envelope.type,
                                 processed_at=self.clock.now()))
        if self.after_commit:
            self.after_commit()
        return Outcome(status, event_id)

    async def _run(self, uow: UnitOfWork, envelope: Envelope, route: Route, payload: BaseModel) -> None:
        """The handler, then whatever was parked waiting for what it introduced."""
        if not isinstance(payload, route.model):
            raise Poison(f"{envelope.type} v{envelope.version} parsed as {type(payload).__name__}, "
                         f"not {route.model.__name__}")
        await route.handler(uow, envelope, payload)
        if route.releases is not None:
            await self._release(uow.session, route.releases(payload))

    def _route(self, envelope: Envelope) -> Route:
        route = self.handlers.get(envelope.type)
        assert route is not None  # only routed events are collected into a run
        return route

    async def _run_many(self, session: AsyncSession, run: Sequence[tuple[UnitOfWork, Envelope, BaseModel]]) -> None:
        """A run of events whose routes share one set-based handler: one call, then what they release.

        When an event of the run releases a key under which events are parked, the run is handled one event at a
        time instead (handler, then its release), so parked events apply exactly where they would alone."""
        route = self._route(run[0][1])
        for _, envelope, payload in run:
            own = self._route(envelope)
            if not isinstance(payload, own.model):
                raise Poison(f"{envelope.type} v{envelope.version} parsed as {type(payload).__name__}, "
                             f"not {own.model.__name__}")
        keys = [(r.releases(p) if (r := self._route(e)).releases is not None else None) for _, e, p in run]
        wanted = sorted({k for k in keys if k is not None})
        if wanted and await self._parked_under(session, wanted):
            for uow, envelope, payload in run:
                token = correlation_id.set(envelope.correlation_id)
                try:
                    await self._run(uow, envelope, self._route(envelope), payload)
                finally:
                    correlation_id.reset(token)
            return
        assert route.many is not None
        await route.many(run)

    async def _parked_under(self, session: AsyncSession, keys: Sequence[str]) -> bool:
        """Whether any event is parked under one of `keys` (sorted), with each key locked as `_release` locks it."""
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            if session.get_bind().dialect.name == "postgresql":
                await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) "
                                           "FROM unnest(CAST(:ks AS text[])) WITH ORDINALITY AS t(k, n) ORDER BY n"),
                                      {"ks": [f"{self.name}:{k}" for k in chunk]})
            found = (await session.execute(
                select(col(ParkedEvent.id)).where(col(ParkedEvent.consumer) == self.name,
                                                  col(ParkedEvent.key).in_(chunk)).limit(1)
            )).first()
            if found is not None:
                return True
        return False

    async def _release(self, session: AsyncSession, key: str) -> None:
        """Apply the events parked under `key`, in the order they arrived; one still waiting is parked again."""
        await self._lock(session, key)
        rows = (await session.execute(
            select(ParkedEvent).where(col(ParkedEvent.consumer) == self.name, col(ParkedEvent.key) == key)
            .order_by(col(ParkedEvent.id))
        )).scalars().all()
        for row in rows:
            envelope = Envelope.model_validate_json(row.envelope)
            route = self.handlers.get(envelope.type)
            if route is None:
                await session.delete(row)
                continue
            try:
                await self._run(self._uow(session, envelope), envelope, route, self._payload(envelope))
            except Park as again:
                row.key, row.reason = again.key, again.reason
                session.add(row)
                continue
            log.info("event_released", consumer=self.name, event_id=row.event_id, type=row.type, key=key)
            await session.delete(row)

    async def _lock(self, session: AsyncSession, key: str) -> None:
        """Serialize parking and releasing of one key. SQLite transactions are serialized already (BEGIN
        IMMEDIATE); PostgreSQL takes a transaction-scoped advisory lock on the key."""
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                                  {"k": f"{self.name}:{key}"})

    async def _advance(self, session: AsyncSession, feed: str, position: int) -> None:
        cursor = await session.get(FeedCursor, (self.name, feed))
        if cursor is None:
            session.add(FeedCursor(consumer=self.name, feed=feed, position=position))
        elif position > cursor.position:
            cursor.position = position

    async def _dead_letter(self, raw: Any, *, origin: str, event_id: str | None, event_type: str | None,
                           error: str, feed: str | None, position: int | None) -> None:
        """Commit the dead letter's row (with the cursor, on a feed), retrying through an outage until it is
        durable; only then copy it to the sink (the dead-letter topic). Never returns without the row."""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else (
            raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False))
        record: dict[str, Any] = {"consumer": self.name, "event_id": event_id, "type": event_type, "origin": origin,
                                  "error": error, "payload": text}
        log.error("dead_letter", consumer=self.name, event_id=event_id, type=event_type, origin=origin, error=error)
        outage = 0
        while True:
            try:
                async with self.sessions() as session, session.begin():
                    row = DeadLetter(**record, created_at=self.clock.now())
                    session.add(row)
                    if feed is not None and position is not None:
                        await self._advance(session, feed, position)
                    await session.flush()
                    record["id"] = row.id
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — the event is not skipped: the row is written or we wait
                outage += 1
                await self._wait_out(outage, event_id=event_id, event_type=event_type,
                                     error=f"dead letter not written: {type(exc).__name__}: {exc}")
        if self.dead_letter_sink is not None:
            try:
                await self.dead_letter_sink(record)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — the row is the record; the topic is a copy for operators
                log.warning("dead_letter_copy_failed", consumer=self.name, event_id=event_id, dead_letter=record["id"],
                            error=f"{type(exc).__name__}: {exc}")

    async def redrive(self, dead_letter_id: int) -> DeadLetter | None:
        """Hand a dead letter's stored message to the consumer again and mark the row redriven with the outcome;
        None when there is no such row. A row already redriven is returned as it is (idempotent), and an event
        handled meanwhile is a duplicate for the inbox, so it is never applied twice."""
        async with self.sessions() as session:
            row = await session.get(DeadLetter, dead_letter_id)
        if row is None or row.consumer != self.name:
            return None
        if row.redriven_at is not None:
            return row
        outcome = await self.process(row.payload, origin=f"redrive:{dead_letter_id}")
        async with self.sessions() as session, session.begin():
            row = await session.get(DeadLetter, dead_letter_id)
            assert row is not None
            if row.redriven_at is None:
                row.redriven_at = self.clock.now()
                row.redrive_outcome = outcome.status
        log.info("dead_letter_redriven", consumer=self.name, dead_letter=dead_letter_id, event_id=outcome.event_id,
                 outcome=outcome.status)
        return row

    async def waiting_dead_letters(self, limit: int = 1000) -> list[int]:
        """The ids of this consumer's dead letters not redriven yet, oldest first."""
        async with self.sessions() as session:
            return [i for i in (await session.execute(
                select(col(DeadLetter.id)).where(col(DeadLetter.consumer) == self.name,
                                                 col(DeadLetter.redriven_at).is_(None))
                .order_by(col(DeadLetter.id)).limit(limit))).scalars().all() if i is not None]

    async def cursor(self, feed: str) -> int:
        """How far this consumer has read a feed."""
        async with self.sessions() as session:
            row = (await session.execute(
                select(FeedCursor).where(col(FeedCursor.consumer) == self.name, col(FeedCursor.feed) == feed)
            )).scalar_one_or_none()
            return row.position if row else 0
