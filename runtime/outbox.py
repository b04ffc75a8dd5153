"""The transactional outbox: events are appended in the state change's transaction, then sequenced."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlmodel import col

from contracts import GENESIS_HASH, Actor, Envelope
from contracts.envelope import canonical_json, format_time, seal
from contracts.ownership import owner_or_none, owns
from contracts.registry import Payload, key_of, latest_version
from runtime.clock import Clock, new_uuid
from runtime.models import LogState, OutboxRow, SubjectHead

log = structlog.get_logger("closeloop.outbox")


class NotOwned(Exception):
    """A service tried to publish an event it does not own: a programming error, never retried into the log."""


def chain(prev: str, event_hash: str) -> str:
    """The running hash of the whole log after one more event."""
    return hashlib.sha256(f"{prev}{event_hash}".encode("ascii")).hexdigest()


def _insert(session: AsyncSession) -> Any:
    return sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert


async def _lock_head(session: AsyncSession, subject: str) -> SubjectHead:
    """The subject's chain head, locked for this transaction (created on first use)."""
    ins = _insert(session)
    await session.execute(
        ins(SubjectHead).values(subject=subject, seq=0, hash=GENESIS_HASH).on_conflict_do_nothing()
    )
    head = (
        await session.execute(
            select(SubjectHead).where(col(SubjectHead.subject) == subject).with_for_update().execution_options(
                populate_existing=True
            )
        )
    ).scalar_one()
    return head


@dataclass
class UnitOfWork:
    """A transaction with who is acting and why; `emit` appends events to the outbox within it."""

    session: AsyncSession
    service: str
    actor: Actor
    correlation_id: str
    causation_id: str | None
    clock: Clock
    emitted: list[Envelope] = field(default_factory=list)

    async def emit(self, subject: str, payload: Payload, *, new_subject: bool = False) -> Envelope:
        """Append `payload` as an event to the subject's chain; its type and version come from its class.

        Refuses (NotOwned) an event another service publishes, or an older version of one.
        `new_subject=True` says the subject is created in this transaction (a fresh id): its chain starts here,
        so no head is read or locked and the rows are flushed in one batch at commit; should the subject
        exist after all, the head's primary key refuses the commit.
        """
        type_, version = _check_owned(self.service, type(payload))
        body = json.loads(payload.model_dump_json())
        if new_subject:
            head = SubjectHead(subject=subject, seq=0, hash=GENESIS_HASH)
            self.session.add(head)
        else:
            head = await _lock_head(self.session, subject)
        now: datetime = self.clock.now()
        envelope = seal(
            id=new_uuid(),
            type=type_,
            version=version,
            source=self.service,
            subject=subject,
            time=now,
            actor=self.actor,
            correlation_id=self.correlation_id,
            causation_id=self.causation_id,
            seq=head.seq + 1,
            prev_hash=head.hash,
            data=body,
        )
        head.seq = envelope.seq
        head.hash = envelope.hash
        self.session.add(
            OutboxRow(
                event_id=str(envelope.id),
                type=type_,
                subject=subject,
                seq=envelope.seq,
                time=now,
                envelope=envelope.to_json(),
            )
        )
        self.emitted.append(envelope)
        return envelope

    async def emit_new(self, items: Sequence[tuple[str, Payload]]) -> list[Envelope]:
        """The first event of each of many subjects created in this transaction (fresh ids), like
        `emit(subject, payload, new_subject=True)` for each, in order, but written with one multi-row INSERT of
        their chain heads and one of their outbox rows (executemany), not one ORM object each.

        Each chain starts at the genesis hash with seq 1; should a subject exist after all, the head's primary key
        refuses the statement and the transaction fails, as `emit` would at commit."""
        return await emit_new_across([(self, subject, payload, None) for subject, payload in items])


async def emit_new_across(items: Sequence[tuple[UnitOfWork, str, Payload, uuid.UUID | None]]) -> list[Envelope]:
    """`UnitOfWork.emit_new` for the first events of new subjects written by several units of work of ONE session
    (a batch of handled events, each with its own actor, correlation and cause), in the order given, with the same
    two statements. An item's event id may be drawn beforehand (given), so that a caller writing many things at
    once draws its ids in the order one `emit` at a time would have drawn them; None draws it here, in order."""
    if not items:
        return []
    session = items[0][0].session
    if any(uow.session is not session for uow, _, _, _ in items):
        raise ValueError("emit_new_across: every unit of work must be on one session")
    stamps: dict[int, tuple[datetime, str, dict[str, Any]]] = {}
    checked: set[tuple[str, type[Payload]]] = set()
    envelopes: list[tuple[UnitOfWork, Envelope]] = []
    heads: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for uow, subject, payload, given in items:
        type_, version = key_of(type(payload))
        if (uow.service, type(payload)) not in checked:
            _check_owned(uow.service, type(payload))
            checked.add((uow.service, type(payload)))
        if id(uow) not in stamps:
            at = uow.clock.now()
            stamps[id(uow)] = (at, format_time(at), uow.actor.model_dump(mode="json"))
        now, when, actor = stamps[id(uow)]
        event_id = given or new_uuid()
        data = json.loads(payload.model_dump_json())
        # what `seal` and `Envelope.to_json` give, built once (tests/runtime/test_outbox_bulk.py holds them equal)
        hash_, text_ = _sealed(
            {"actor": actor, "causation_id": uow.causation_id, "correlation_id": uow.correlation_id, "data": data},
            {"id": str(event_id), "prev_hash": GENESIS_HASH, "seq": 1, "source": uow.service, "subject": subject,
             "time": when, "type": type_, "version": version})
        heads.append({"subject": subject, "seq": 1, "hash": hash_})
        rows.append({"event_id": str(event_id), "type": type_, "subject": subject, "seq": 1, "time": now,
                     "envelope": text_})
        envelopes.append((uow, Envelope.model_construct(
            id=event_id, type=type_, version=version, source=uow.service, subject=subject, time=now,
            actor=uow.actor, correlation_id=uow.correlation_id, causation_id=uow.causation_id, seq=1,
            prev_hash=GENESIS_HASH, hash=hash_, data=data)))
    # pending ORM changes first, so the outbox ids keep the order the events were emitted in
    await session.flush()
    await session.execute(insert(SubjectHead), heads)
    await session.execute(insert(OutboxRow), rows)
    for uow, envelope in envelopes:
        uow.emitted.append(envelope)
    return [envelope for _, envelope in envelopes]


async def _lock_heads(session: AsyncSession, subjects: Sequence[str]) -> dict[str, tuple[int, str]]:
    """The chain heads (seq, hash) of many subjects, locked for this transaction in the order of their names (so
    two transactions locking some of the same heads wait for each other instead of deadlocking); a subject without
    a head yet gets one at the genesis hash, as `_lock_head` does."""
    heads: dict[str, tuple[int, str]] = {}

    async def read(names: Sequence[str]) -> None:
        for i in range(0, len(names), 5000):  # chunked: within every driver's parameter limit
            rows = await session.execute(
                select(col(SubjectHead.subject), col(SubjectHead.seq), col(SubjectHead.hash))
                .where(col(SubjectHead.subject).in_(names[i:i + 5000])).order_by(col(SubjectHead.subject))
                .with_for_update())
            heads.update((subject, (seq, hash_)) for subject, seq, hash_ in rows.all())

    await read(subjects)
    missing = [s for s in subjects if s not in heads]
    if missing:
        await session.execute(_insert(session)(SubjectHead).on_conflict_do_nothing(),
                              [{"subject": s, "seq": 0, "hash": GENESIS_HASH} for s in missing])
        await read(missing)
    return heads


def _sealed(before: dict[str, Any], after: dict[str, Any]) -> tuple[str, str]:
    """The hash and the canonical JSON of an envelope given as its fields before "hash" in key order (actor,
    causation_id, correlation_id, data) and after it (id … version), each half encoded once: canonical JSON sorts
    keys, so the envelope's text is its body's text with `"hash":"…"` put where the halves meet. Byte-equal to
    `seal(...)` and `Envelope.to_json()` (tests/runtime/test_outbox_bulk.py)."""
    head, tail = canonical_json(before)[:-1], canonical_json(after)[1:]
    hash_ = hashlib.sha256(f"{head},{tail}".encode()).hexdigest()
    return hash_, f'{head},"hash":"{hash_}",{tail}'


def _check_owned(service: str, model: type[Payload]) -> tuple[str, int]:
    type_, version = key_of(model)
    if not owns(service, type_):
        raise NotOwned(f"the {service} service does not publish {type_} (its owner is "
                       f"{owner_or_none(type_) or 'nobody'})")
    if version != latest_version(type_):
        raise NotOwned(f"{type_} v{version} is not the newest version; emit v{latest_version(type_)}")
    return type_, version


async def emit_each(items: Sequence[tuple[UnitOfWork, str, Payload]]) -> list[Envelope]:
    """Many events, each emitted by its own unit of work onto its subject's chain (the events a batch of handled
    messages causes: one unit of work per message, all on the batch's one session), in order.

    It leaves what `uow.emit(subject, payload)` for each item in turn leaves: the same envelopes (seq, prev_hash,
    hash, canonical JSON), the outbox rows in the same order, each chain head at its last event, each envelope in
    its unit of work's `emitted`. But the heads of all the subjects are read and locked with one statement (in the
    order of their names), written back with one, and the outbox rows inserted with one, instead of three
    statements and an ORM object or two per event."""
    if not items:
        return []
    session = items[0][0].session
    if any(uow.session is not session for uow, _, _ in items):
        raise ValueError("emit_each: every unit of work must be on one session")
    kinds: dict[tuple[str, type[Payload]], tuple[str, int]] = {}
    for uow, _, payload in items:  # refused (NotOwned) before anything is written
        if (uow.service, type(payload)) not in kinds:
            kinds[uow.service, type(payload)] = _check_owned(uow.service, type(payload))
    # pending ORM changes first: the outbox ids keep the order the events were emitted in, and a head an earlier
    # `emit` of this transaction moved is written before it is read here
    await session.flush()
    heads = await _lock_heads(session, sorted({subject for _, subject, _ in items}))
    times: dict[datetime, str] = {}
    actors: dict[Actor, dict[str, Any]] = {}
    envelopes: list[Envelope] = []
    rows: list[dict[str, Any]] = []
    for uow, subject, payload in items:
        type_, version = kinds[uow.service, type(payload)]
        now: datetime = uow.clock.now()
        when = times.get(now) or times.setdefault(now, format_time(now))
        actor = actors.get(uow.actor) or actors.setdefault(uow.actor, uow.actor.model_dump(mode="json"))
        seq, prev = heads[subject]
        event_id = new_uuid()
        data = json.loads(payload.model_dump_json())
        hash_, text_ = _sealed(
            {"actor": actor, "causation_id": uow.causation_id, "correlation_id": uow.correlation_id, "data": data},
            {"id": str(event_id), "prev_hash": prev, "seq": seq + 1, "source": uow.service, "subject": subject,
             "time": when, "type": type_, "version": version})
        heads[subject] = (seq + 1, hash_)
        rows.append({"event_id": str(event_id), "type": type_, "subject": subject, "seq": seq + 1, "time": now,
                     "envelope": text_})
        envelope = Envelope.model_construct(
            id=event_id, type=type_, version=version, source=uow.service, subject=subject, time=now,
            actor=uow.actor, correlation_id=uow.correlation_id, causation_id=uow.causation_id, seq=seq + 1,
            prev_hash=prev, hash=hash_, data=data)
        uow.emitted.append(envelope)
        envelopes.append(envelope)
    await session.execute(insert(OutboxRow), rows)
    moved = {row["subject"]: heads[row["subject"]] for row in rows}
    await session.execute(update(SubjectHead), [{"subject": s, "seq": q, "hash": h} for s, (q, h) in moved.items()])
    for subject, (seq, hash_) in moved.items():  # a head object of this session stays true to its row
        held = session.identity_map.get(identity_key(SubjectHead, subject))
        if held is not None:
            set_committed_value(held, "seq", seq)
            set_committed_value(held, "hash", hash_)
    return envelopes


Publish = Callable[[list[OutboxRow]], Awaitable[None]]


class Lease(Protocol):
    """Who may relay: `hold()` says whether this instance holds the lease now (taking it when free)."""

    async def hold(self) -> bool: ...

    async def release(self) -> None: ...


class Relay:
    """Sequences committed outbox rows into the log (commit order), then publishes them when a bus needs it.

    With a `lease` (runtime.lease; PostgreSQL), `run` relays only while this instance holds it: replicas of a
    service on one database stand by, and one of them takes over when the holder stops or dies."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        publish: Publish | None = None,
        interval: float = 0.2,
        on_sequenced: Callable[[int], None] | None = None,
        after_sequence: Callable[[AsyncSession, LogState], Awaitable[None]] | None = None,
        on_idle: Callable[[], Awaitable[bool]] | None = None,
        idle_every: float = 1.0,
        lease: Lease | None = None,
    ) -> None:
        self.sessions = sessions
        self.lease = lease
        self.standby = False
        self.publish = publish
        self.interval = interval
        self.wake = asyncio.Event()
        self.on_sequenced = on_sequenced
        self.after_sequence = after_sequence
        self.on_idle = on_idle
        self.idle_every = idle_every
        self._last_idle = 0.0
        self._dirty = False
        self.failures = 0

    def poke(self) -> None:
        """Ask the relay to look now instead of at the next tick."""
        self.wake.set()

    async def sequence_once(self, batch: int = 500) -> int:
        """Give the next committed rows their log positions; returns how many."""
        async with self.sessions() as session, session.begin():
            state = (
                await session.execute(select(LogState).where(col(LogState.id) == 1).with_for_update())
            ).scalar_one_or_none()
            if state is None:
                # a fresh database: two relays (or a relay and a test's step) may both find no row; one insert wins
                await session.execute(_insert(session)(LogState).values(id=1, position=0, log_hash=GENESIS_HASH,
                                                                           published=0).on_conflict_do_nothing())
                state = (
                    await session.execute(select(LogState).where(col(LogState.id) == 1).with_for_update())
                ).scalar_one()
            rows = (
                await session.execute(
                    select(OutboxRow).where(col(OutboxRow.position).is_(None)).order_by(col(OutboxRow.id)).limit(batch)
                )
            ).scalars().all()
            position, running = state.position, state.log_hash
            changes = []
            for row in rows:
                position += 1
                running = chain(running, json.loads(row.envelope)["hash"])
                changes.append({"id": row.id, "position": position, "log_hash": running})
            if changes:
                await session.execute(update(OutboxRow), changes)  # one bulk UPDATE by primary key
            state.position, state.log_hash = position, running
            if rows and self.after_sequence is not None:
                await self.after_sequence(session, state)
        if rows and self.on_sequenced:
            self.on_sequenced(position)
        return len(rows)

    async def publish_once(self, batch: int = 500) -> int:
        """Send the next sequenced rows to the bus; a crash re-sends, consumers dedupe by event id.

        On PostgreSQL the rows are read, sent and marked published while the log state row is locked, so two
        relays of one database (a lease changing hands) never send the same rows: the second waits, then sees
        them published. (SQLite has one process, and its lock would hold every writer up during the send.)"""
        if self.publish is None:
            return 0
        async with self.sessions() as session:
            if session.get_bind().dialect.name == "postgresql":
                async with session.begin():
                    state = (await session.execute(
                        select(LogState).where(col(LogState.id) == 1).with_for_update())).scalar_one_or_none()
                    rows = [] if state is None else await self._unpublished(session, state.published, batch)
                    if state is not None and rows:
                        await self.publish(rows)
                        state.published = rows[-1].position or state.published
                return len(rows)
            state = (await session.execute(select(LogState).where(col(LogState.id) == 1))).scalar_one_or_none()
            if state is None:
                return 0
            rows = await self._unpublished(session, state.published, batch)
        if not rows:
            return 0
        await self.publish(rows)
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(LogState)
                .where(col(LogState.id) == 1, col(LogState.published) < rows[-1].position)
                .values(published=rows[-1].position)
            )
        return len(rows)

    @staticmethod
    async def _unpublished(session: AsyncSession, published: int, batch: int) -> list[OutboxRow]:
        return list((await session.execute(
            select(OutboxRow).where(col(OutboxRow.position) > published).order_by(col(OutboxRow.position))
            .limit(batch)
        )).scalars().all())

    async def run(self) -> None:
        """Loop until cancelled; failures are logged and retried with backoff, never dropped."""
        try:
            await self._run()
        finally:
            if self.lease is not None:
                await self.lease.release()

    async def _run(self) -> None:
        backoff = self.interval
        while True:
            if self.lease is not None and not await self.lease.hold():
                if not self.standby:
                    log.info("relay_standby", reason="another instance holds the relay lease")
                self.standby = True
                await asyncio.sleep(self.interval)
                continue
            self.standby = False
            try:
                busy = await self.sequence_once()
                busy += await self.publish_once()
                self.failures = 0
                backoff = self.interval
                if busy:
                    self._dirty = True
                    continue
                now = time.monotonic()
                if self.on_idle is not None and self._dirty and now - self._last_idle >= self.idle_every:
                    self._last_idle = now
                    # stays due until the hook says the tail is covered (it may have been too early)
                    self._dirty = not await self.on_idle()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — retried: the rows stay in the outbox
                self.failures += 1
                log.warning("relay_retry", error=repr(exc), failures=self.failures)
                backoff = min(backoff * 2, 5.0)
                await asyncio.sleep(backoff)
                continue
            self.wake.clear()
            try:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that lands as
                # its timeout fires, and the relay then never stops (a service's shutdown hangs)
                async with asyncio.timeout(self.interval):
                    await self.wake.wait()
            except TimeoutError:
                pass
