"""Rebuild, from an export alone, what the services derive from events, as of a date.

Two parts, each the services' own code path:
- what a service derives from its OWN events (issue status in issues, closures in verification, rankings in
  scoring, ...): the pure projections of audit.projections, whose rules are the services' domain rules;
- what a service derives from OTHER services' events: its `HANDLERS` table run through the runtime's Consumer
  over a fresh SQLite database migrated with runtime.db.migrate, fed its peers' events (each peer's log in
  order, peers merged by event time), with a clock set to each event's time; then its tables are read out.
  The issues service is not run this way: what its handlers derive (issue status moved by closure.*) is in its
  own log as issue.status_changed, which the pure projection folds.
"""

from __future__ import annotations

import heapq
import importlib
import re
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from sqlmodel import col

from audit.files import read_manifest
from audit.projections import Projections
from audit.records import LoggedEvent, as_dict
from audit.verify import ServiceResult, verify_export
from contracts.envelope import format_time, parse_time
from runtime.clock import SHANGHAI, SettableClock

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
GENERATED = "<generated>"
REPLAY_BATCH = 500  # events per transaction when a service's handlers are replayed


def cutoff(until: date | None) -> str | None:
    """The first instant after `until` ends in Asia/Shanghai, in the log's canonical time form."""
    if until is None:
        return None
    start_of_next = datetime.combine(until + timedelta(days=1), time(0), tzinfo=SHANGHAI)
    return format_time(start_of_next.astimezone(UTC))


def happened_by(event: LoggedEvent, until: date | None) -> bool:
    """Whether an event recorded later tells of something that happened by the end of `until` (business time):
    a registration with its assigned date (交办日期), a move taken over from a ledger with its date (销号日期…)."""
    if until is None:
        return False
    if event.type == "issue.registered":
        day = event.data.get("assigned_on")
    elif event.type == "issue.status_changed":
        day = event.data.get("happened_on")
    else:
        return False
    return isinstance(day, str) and date.fromisoformat(day) <= until


@dataclass
class ReplayResult:
    """The rebuilt state, what verify said of the export, and anything the rules would not have allowed."""

    until: date | None
    verified: list[ServiceResult]
    projections: Projections
    derived: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    handler_failures: list[str] = field(default_factory=list)
    scores: dict[str, Any] | None = None
    score_anomalies: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (all(r.ok for r in self.verified) and not self.projections.anomalies and not self.handler_failures
                and not self.score_anomalies)

    def state(self) -> dict[str, Any]:
        """Everything rebuilt, JSON-ready."""
        return {"until": self.until.isoformat() if self.until else None, "own": self.projections.state(),
                "derived": self.derived, "scores": self.scores,
                "anomalies": [*self.projections.anomalies, *self.score_anomalies],
                "handler_failures": self.handler_failures}

    def state_json(self) -> bytes:
        """The state as canonical JSON: two replays of one export give the same bytes."""
        return orjson.dumps(self.state(), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)

    def summary(self) -> dict[str, Any]:
        """What an auditor reads first."""
        out = self.projections.summary()
        out["until"] = self.until.isoformat() if self.until else None
        out["derived_rows"] = {svc: {t: len(rows) for t, rows in tables.items()} for svc, tables in self.derived.items()}
        out["handler_failures"] = len(self.handler_failures)
        out["anomalies"] += len(self.score_anomalies)
        if self.scores is not None:
            out["scores"] = {"period": self.scores.get("period"),
                             "rankings_recomputed": self.scores.get("rankings_checked"),
                             "orgs_scored": {k: len(v) if isinstance(v, list) else v.get("error")
                                             for k, v in self.scores.get("scores", {}).items()}}
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return "<binary>"  # a rendered file (e.g. a bulletin's XLSX): not comparable byte for byte, nor sized
    return value


def _collect_ids(value: Any, into: set[str]) -> None:
    if isinstance(value, str):
        if _UUID.match(value):
            into.add(value)
    elif isinstance(value, dict):
        for v in value.values():
            _collect_ids(v, into)
    elif isinstance(value, list):
        for v in value:
            _collect_ids(v, into)


def _normalize(value: Any, known: set[str]) -> Any:
    """Ids a handler generated afresh (uuid4) differ between runs; they are named as such, not compared."""
    if isinstance(value, str) and _UUID.match(value) and value not in known:
        return GENERATED
    if isinstance(value, list):
        return [_normalize(v, known) for v in value]
    if isinstance(value, dict):
        return {k: _normalize(v, known) for k, v in value.items()}
    return value


After = Callable[[Any], Awaitable[None]]


async def replay_handlers(service: str, peers: dict[str, list[LoggedEvent]], *, workdir: Path,
                          after: After | None = None,
                          progress: Callable[[int, int], None] | None = None,
                          ) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Run `service`'s handler table over its peers' events on a fresh database; its tables, and failures."""
    from sqlmodel import SQLModel

    from runtime.consumer import Consumer
    from runtime.db import make_engine, make_sessionmaker
    from runtime.migrations import migrate
    from runtime.models import ParkedEvent

    spec = importlib.import_module(f"services.{service}.app").SPEC
    # a batch job with nothing else to serve: statements run on the loop thread, not aiosqlite's worker
    engine = make_engine(f"sqlite+aiosqlite:///{workdir / f'{service}.replay.db'}", inline=True)
    failures: list[str] = []
    known: set[str] = set()
    try:
        await migrate(engine, service, spec.migrations)
        clock = SettableClock(datetime(2000, 1, 1, tzinfo=UTC))
        consumer = Consumer(name=f"audit-replay-{service}", service=service, sessions=make_sessionmaker(engine),
                            handlers=spec.handlers, clock=clock, attempts=1, backoff=0)
        streams = [peers[p] for p in spec.follows if p in peers and p != service]
        handled, total = 0, sum(len(s) for s in streams)
        if progress is not None:
            progress(0, total)
        def at_event_time(envelope: Any) -> None:
            clock.set(envelope.time)  # the handler sees the clock of the event it handles

        async def apply(chunk: list[dict[str, Any]]) -> None:
            # Many events per transaction, with their inbox rows; a batch that fails anywhere is rolled back and
            # its events handled one by one, each with its own outcome (see Consumer.process_many).
            outcomes = await consumer.process_many(chunk, origins=[f"audit-replay:{e['source']}" for e in chunk],
                                                   before=at_event_time)
            for event, outcome in zip(chunk, outcomes, strict=True):
                if outcome.status == "dead":
                    failures.append(f"{service} could not handle {event['source']} {event['type']} {event['id']}: "
                                    f"{outcome.error}")

        chunk: list[dict[str, Any]] = []
        for logged in heapq.merge(*streams, key=lambda e: e.time):
            event = as_dict(logged)
            known.add(event["id"])
            known.add(event["subject"])
            _collect_ids(event["data"], known)
            chunk.append(event)
            if len(chunk) >= REPLAY_BATCH:
                await apply(chunk)
                handled += len(chunk)
                chunk = []
                if progress is not None:
                    progress(handled, total)
        if chunk:
            await apply(chunk)
            handled += len(chunk)
        if progress is not None:
            progress(handled, total)
        async with consumer.sessions() as session:
            waiting = (await session.execute(select(ParkedEvent).order_by(col(ParkedEvent.id)))).scalars().all()
        failures.extend(f"{service} kept {p.type} {p.event_id} waiting, never applied: {p.reason}" for p in waiting)
        if after is not None:
            await after(consumer.sessions)
        tables: dict[str, list[dict[str, Any]]] = {}
        async with engine.connect() as conn:
            for table in SQLModel.metadata.sorted_tables:
                if table.info.get("service") != service:
                    continue
                rows = (await conn.execute(select(table))).mappings().all()
                out = [_normalize({str(k): _plain(v) for k, v in row.items()}, known) for row in rows]
                out.sort(key=lambda r: orjson.dumps(r, option=orjson.OPT_SORT_KEYS))
                tables[str(table.name)] = out
    finally:
        await engine.dispose()
    return tables, failures


def _scores_hook(result: ReplayResult, limit: str | None) -> After:
    """Score on scoring's rebuilt database with scoring's own code (left out, and said so, if it is missing)."""

    async def after(sessions: Any) -> None:
        last = limit or result.projections.last_time
        if not last:
            return
        as_of = parse_time(last)
        if limit:
            as_of -= timedelta(microseconds=1)
        try:
            from audit.scores import rebuild_scores

            result.scores, result.score_anomalies = await rebuild_scores(sessions, result.projections, as_of=as_of)
        except (ImportError, AttributeError) as exc:
            result.scores = {"unavailable": f"the scoring service's scoring code cannot be used: {exc}"}

    return after


async def replay_export(root: Path, *, until: date | None = None, handlers: bool = True,
                        trusted: dict[str, str] | None = None,
                        progress: Callable[[int], None] | None = None,
                        handler_progress: Callable[[str, int, int], None] | None = None) -> ReplayResult:
    """Verify the export and rebuild the state as of the end of `until` (Asia/Shanghai); all of it when None.

    `progress(n)` hears of every n events verified and folded; `handler_progress(service, done, total)` of
    each service's handler replay."""
    manifest = read_manifest(root)
    services = list(manifest["services"])
    projections = Projections()
    limit = cutoff(until)
    kept: dict[str, list[LoggedEvent]] = {s: [] for s in services}
    # A Kafka export is in offset order per partition, not in commit order: fold it in time order instead
    # (a subject's events are in one partition, in order, and their times never go back).
    from_kafka = manifest.get("source") == "kafka"
    apply = None if from_kafka else projections.apply
    keep = handlers or from_kafka

    def on_event(service: str, event: LoggedEvent) -> None:
        if limit is None or event.time < limit or happened_by(event, until):
            if apply is not None:
                apply(event)
            if keep:
                kept[service].append(event)

    verified = verify_export(root, trusted=trusted, on_event=on_event, progress=progress)
    result = ReplayResult(until=until, verified=verified, projections=projections)
    if not all(r.ok for r in verified):
        return result
    if from_kafka:
        for service in services:
            kept[service].sort(key=lambda e: e.time)
            for event in kept[service]:
                projections.apply(event)
    if handlers:
        with tempfile.TemporaryDirectory(prefix="closeloop-replay-") as tmp:
            for service in services:
                if service == "issues":
                    continue
                spec = importlib.import_module(f"services.{service}.app").SPEC
                if not spec.handlers:
                    continue
                after = _scores_hook(result, limit) if service == "scoring" else None
                advance = (lambda done, total, s=service: handler_progress(s, done, total)) if handler_progress else None
                tables, failures = await replay_handlers(service, kept, workdir=Path(tmp), after=after,
                                                         progress=advance)
                result.derived[service] = tables
                result.handler_failures.extend(failures)
    return result
