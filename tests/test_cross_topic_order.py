"""Order independence across topics: every consumer reaches the same state whatever the order in which events of
different streams (topic and subject: nothing orders two of them) arrive.

One story of an issue's life is told as its peers publish it. For every consumer, the events its handler table
takes are delivered in the story's order, and then, for EVERY pair of events of different streams, once more with
that pair's order flipped (each stream's own order kept: the later event moves before the earlier one together
with the events of its stream between them). The end state (the consumer's tables, its log, nothing parked, nothing
dead) must be the same each time. The pairs come from the handler tables, so a handler added without a place in the
story fails here.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts import Actor, Envelope
from contracts.enums import OrgKind, RoundLevel
from contracts.events.issues import OrgRegistered, RoundRegistered
from runtime.clock import SettableClock
from runtime.consumer import Consumer, HandlerTable
from runtime.db import make_engine, make_sessionmaker
from runtime.migrations import migrate
from runtime.outbox import UnitOfWork
from tests.support import EventFactory, status_moves

T0 = datetime(2020, 6, 1, 2, 0, tzinfo=UTC)
RESP, SUPER, LEADER = "city-eeb", "inspection-office", "分管副市长(生态环境)"
ROUND = "nm-2019-inspection"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Never compared: the runtime's bookkeeping (hashes contain fresh ids; cursors and checkpoints are positions).
SKIP_TABLES = {"alembic_version", "subject_head", "log_state", "checkpoint", "feed_cursor", "inbox"}


# Tables the story must fill for each consumer, so that equal states are not equal by being empty.
EXPECTED = {"verification": ("verification_issue", "verification_round"),
            "scoring": ("scoring_org", "scoring_issue_event"),
            "notify": ("notify_issue", "notify_fact", "notify_inbox", "outbox"),
            "issues": ("issues_issue", "issues_transition", "issues_evidence", "outbox")}


def stream(e: Envelope) -> tuple[str, str]:
    """What orders events: one topic (the source service's) and one subject."""
    return (e.source, e.subject)


def story(i1: str, i2: str | None = None) -> list[Envelope]:
    """An issue's life as its peers publish it, in the order they publish it (and a second issue's application,
    when `i2` is given: the issues service follows only verification, whose streams are one per issue)."""
    iss, ver, sco = EventFactory("issues"), EventFactory("verification"), EventFactory("scoring")
    t = iter(T0 + timedelta(hours=h) for h in range(1000))
    out: list[Envelope] = []

    def add(factory: EventFactory, type_: str, subject: str, data: dict[str, Any]) -> Envelope:
        env = factory.make(type_, subject, data, time=next(t))
        out.append(env)
        return env

    def decide(type_: str, issue: str, data: dict[str, Any], start: dict[str, str]) -> None:
        env = add(ver, type_, issue, {"issue_id": issue, "responsible_org_id": RESP, **data})
        [moved] = status_moves(iss, [env], start=start, lag=timedelta(minutes=1))
        out.append(moved)
        start[issue] = moved.data["to_status"]

    add(iss, "org.registered", RESP, {"org_id": RESP, "name": "呼和浩特市生态环境局", "kind": "department"})
    add(iss, "round.registered", ROUND, {"round_id": ROUND, "name": "自治区第一生态环境保护督察组",
                                         "level": "regional", "feedback_on": "2020-05-17"})
    for issue, code in ((i1, "HH-2020-004"), (i2, "HH-2020-005")) if i2 else ((i1, "HH-2020-004"),):
        add(iss, "issue.registered", issue, {
            "issue_id": issue, "code": code, "round_id": ROUND, "category": "air", "title": "扬尘污染治理不到位",
            "responsible_org_id": RESP, "supervising_org_id": SUPER, "leader": LEADER, "deadline": "2020-06-30"})
    add(iss, "issue.updated", i1, {
        "issue_id": i1, "changed": ["title"], "responsible_org_id": RESP, "supervising_org_id": SUPER,
        "leader": LEADER, "category": "air", "title": "城区扬尘污染治理不到位"})
    started = add(iss, "issue.started", i1, {"issue_id": i1, "responsible_org_id": RESP})
    add(iss, "issue.status_changed", i1, {"issue_id": i1, "from_status": "registered", "to_status": "in_progress",
                                          "action": "start", "cause_event_id": str(started.id),
                                          "at": started.time.isoformat()})
    add(iss, "issue.progress_reported", i1, {"issue_id": i1, "responsible_org_id": RESP, "note": "完成道路硬化",
                                             "percent": 60})
    add(iss, "issue.extension_decided", i1, {"issue_id": i1, "extension_id": "x1", "approved": True,
                                             "previous_deadline": "2020-06-30", "deadline": "2020-08-31"})
    milestone = {"issue_id": i1, "milestone_id": "m1", "due_on": "2020-07-31", "responsible_org_id": RESP,
                 "supervising_org_id": SUPER}
    add(iss, "issue.milestone_added", i1, {**milestone, "description": "完成 60% 道路硬化", "target": "12 公里"})
    reported = add(iss, "issue.milestone_reported", i1, {**milestone, "outcome": "met", "note": "已完成",
                                                         "evidence_ids": ["e0"]})
    add(iss, "issue.milestone_reviewed", i1, {**milestone, "review": "disputed", "outcome": "met",
                                              "reported_event_id": str(reported.id), "opinion": "抽查未完成"})
    status = {i1: "in_progress"}
    closure = {"supervising_org_id": SUPER}

    def evidence(issue: str, evidence_id: str) -> None:
        add(ver, "evidence.submitted", issue, {"evidence_id": evidence_id, "issue_id": issue, "kind": "photo",
                                               "sha256": "a" * 64, "size": 2048, "media_type": "image/jpeg",
                                               "org_id": RESP})

    evidence(i1, "e1")
    decide("closure.requested", i1, {"closure_id": "c1", "summary": "已整改", "evidence_ids": ["e1"], **closure},
           status)
    decide("closure.rejected", i1, {"closure_id": "c1", "opinion": "仍有裸土", "reason_code": "superficial",
                                    **closure}, status)
    if i2:
        status[i2] = "registered"
        evidence(i2, "e9")
        decide("closure.requested", i2, {"closure_id": "c9", "summary": "已整改", "evidence_ids": ["e9"],
                                         **closure}, status)
    evidence(i1, "e2")
    decide("closure.requested", i1, {"closure_id": "c2", "summary": "已覆盖", "evidence_ids": ["e2"], "attempt": 2,
                                     **closure}, status)
    decide("closure.accepted", i1, {"closure_id": "c2", "opinion": "核查属实", **closure}, status)
    decide("closure.filed", i1, {"closure_id": "c2"}, status)
    sample = {"sample_id": "s1", "period": "2020-08"}
    add(ver, "sample.drawn", "s1", {
        **sample, "algorithm": "closeloop-sample/v1", "scope": "period", "basis": "count", "count": 1,
        "stratify_by": "none", "checkpoint": {"service": "verification", "size": 0, "root": "0" * 64},
        "candidates": [{"issue_id": i1}], "seed": "a" * 64, "strata": [{"stratum": "", "candidates": 1, "drawn": 1}],
        "items": [{"issue_id": i1, "code": "HH-2020-004", "responsible_org_id": RESP, "supervising_org_id": SUPER,
                   "accepted_by_org_id": SUPER}]})
    decide("issue.reopened", i1, {"reopening_id": "r1", "reason": "扬尘反弹", "supervising_org_id": SUPER,
                                  "sample_id": "s1"}, status)
    add(ver, "sample.reinspected", "s1", {
        **sample, "issue_id": i1, "outcome": "rebound", "opinion": "扬尘反弹", "evidence_ids": [],
        "responsible_org_id": RESP, "supervising_org_id": SUPER, "reinspector_org_id": "city-water",
        "reopening_id": "r1"})
    add(iss, "issue.parent_reopened", i1, {"issue_id": i1, "child_issue_id": "child-1", "child_code": "HH-2020-004-1",
                                           "from_status": "filed", "reason": "子任务 HH-2020-004-1 反弹",
                                           "cause_event_id": str(uuid.uuid4()), "responsible_org_id": RESP})
    add(sco, "calendar.year_published", "calendar/2020", {
        "year": 2020, "holidays": ["2020-10-01", "2020-10-02"], "workdays": ["2020-09-27", "2020-10-10"],
        "source": "国办发明电〔2019〕16号"})
    add(sco, "ranking.published", "2020-06/region/default", {
        "ranking_id": "k1", "period": "2020-06", "kind": "department", "scheme_id": "default", "scheme_version": 1,
        "published_at": next(t).isoformat(), "bottom_named": [RESP], "penalized": [RESP],
        "rows": [{"org_id": RESP, "org_name": "呼和浩特市生态环境局", "score": 61.5, "rank": 1,
                  "components": {"on_time_closure": 50, "completion": 60, "quality": 70, "environment": 0},
                  "overdue": 1, "named": True, "penalty": None}]})
    add(sco, "appeal.filed", "appeal/a1", {
        "appeal_id": "a1", "ranking_id": "k1", "period": "2020-06", "kind": "department", "scheme_id": "default",
        "org_id": RESP, "org_name": "呼和浩特市生态环境局", "component": "quality", "disputed_value": 70,
        "reason": "退回已撤销", "filed_at": next(t).isoformat(), "filed_on": "2020-06-10", "appeal_due": "2020-06-12",
        "decision_due": "2020-06-24"})
    add(sco, "appeal.decided", "appeal/a1", {
        "appeal_id": "a1", "ranking_id": "k1", "period": "2020-06", "kind": "department", "org_id": RESP,
        "component": "quality", "outcome": "refused", "reasons": "核查记录完整", "decided_at": next(t).isoformat(),
        "decided_on": "2020-06-20", "decision_due": "2020-06-24"})
    return out


def flipped(events: list[Envelope], i: int, j: int) -> list[Envelope]:
    """The events with j before i, every stream's order kept: j's stream-mates between them move along."""
    mine = stream(events[j])
    between = events[i + 1:j]
    return [*events[:i], *[e for e in between if stream(e) == mine], events[j], events[i],
            *[e for e in between if stream(e) != mine], *events[j + 1:]]


# ---------------------------------------------------------------- the end state of one delivery


@dataclass(frozen=True)
class Snapshot:
    """What a consumer's database says after the deliveries, generated ids named as such."""

    tables: dict[str, list[str]]


def _normalize(value: Any, known: set[str]) -> Any:
    if isinstance(value, str):
        if _UUID.match(value) and value not in known:
            return "<generated>"
        if value.startswith(("{", "[")):
            try:
                return _normalize(json.loads(value), known)
            except ValueError:
                return value
        return value
    if isinstance(value, dict):
        return {k: _normalize(v, known) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize(v, known) for v in value]
    return value


def _ids(value: Any, into: set[str]) -> None:
    if isinstance(value, str) and _UUID.match(value):
        into.add(value)
    elif isinstance(value, dict):
        for v in value.values():
            _ids(v, into)
    elif isinstance(value, list):
        for v in value:
            _ids(v, into)


# A bulletin (月通报) is a document of the moment it is made: its content (its notices, its official document) is
# what notify knew then, so it is left out of the comparison; everything else notify keeps must not depend on the order.
def _notify_row(table: str, row: dict[str, Any]) -> dict[str, Any] | None:
    if table in ("notify_bulletin", "notify_digest", "notify_document"):
        return None
    if str(row.get("trigger") or row.get("type") or "").startswith("digest."):
        return None
    if table == "notify_inbox":
        row.pop("body", None)  # the wording names the issue's title as it was when the notice was made
    return row


def _outbox_row(envelope: dict[str, Any]) -> dict[str, Any] | None:
    if envelope["type"] == "digest.published" or str(envelope["data"].get("trigger", "")).startswith("digest."):
        return None
    return {k: envelope[k] for k in ("type", "source", "subject", "seq", "causation_id", "data")}


async def snapshot(engine: AsyncEngine, known: set[str], keep: Callable[[str, dict[str, Any]], dict[str, Any] | None]
                   ) -> Snapshot:
    """Every table but the runtime's bookkeeping, rows as sorted normalized JSON."""
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: inspect(c).get_table_names())
        tables: dict[str, list[str]] = {}
        for name in sorted(set(names) - SKIP_TABLES):
            rows = [dict(r._mapping) for r in (await conn.execute(text(f'SELECT * FROM "{name}"'))).all()]
            out = []
            for row in rows:
                if isinstance(row.get("id"), int):
                    del row["id"]  # a row number: it follows the arrival order, which is the point of the test
                kept: dict[str, Any] | None
                if name == "outbox":
                    kept = _outbox_row(json.loads(row["envelope"]))
                else:
                    kept = keep(name, row)
                if kept is not None:
                    out.append(json.dumps(_normalize(kept, known), sort_keys=True, ensure_ascii=False, default=str))
            tables[name] = sorted(out)
    return Snapshot(tables)


# ---------------------------------------------------------------- one consumer over a copy of a template database


async def _template(service: str, path: Path) -> tuple[str, str]:
    """A migrated database for `service` (the issues service also holds the story's orgs, round and issues)."""
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await migrate(engine, service, importlib.import_module(f"services.{service}.app").SPEC.migrations)
        if service != "issues":
            return str(uuid.uuid4()), str(uuid.uuid4())
        from services.issues import handlers

        sessions = make_sessionmaker(engine)
        async with sessions() as session, session.begin():
            uow = UnitOfWork(session=session, service="issues", actor=Actor(org=SUPER, user="admin", role="admin"),
                             correlation_id="story", causation_id=None, clock=SettableClock(T0))
            await handlers.register_org(uow, cmd=OrgRegistered(org_id=RESP, name="呼和浩特市生态环境局",
                                                               kind=OrgKind.department))
            await handlers.register_org(uow, cmd=OrgRegistered(org_id=SUPER, name="督察整改办",
                                                               kind=OrgKind.inspection_office))
            await handlers.register_round(uow, cmd=RoundRegistered(round_id=ROUND, name="督察", level=RoundLevel.regional))
            ids = []
            for code in ("HH-2020-004", "HH-2020-005"):
                issue = await handlers.register_issue(uow, fields={
                    "code": code, "round_id": ROUND, "category": "air", "title": "扬尘污染治理不到位",
                    "responsible_org_id": RESP, "supervising_org_id": SUPER, "leader": LEADER,
                    "deadline": "2020-06-30"})
                ids.append(issue.id)
        return ids[0], ids[1]
    finally:
        await engine.dispose()


async def deliver(service: str, handlers: HandlerTable, template: Path, work: Path, events: list[Envelope],
                  known: set[str], raw: dict[str, dict[str, Any]]) -> Snapshot:
    """The consumer of `service` over a fresh copy of the template, fed `events`; its end state."""
    path = work / f"{uuid.uuid4()}.db"
    shutil.copy(template, path)
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        consumer = Consumer(name=service, service=service, sessions=make_sessionmaker(engine), handlers=handlers,
                            clock=SettableClock(T0 + timedelta(days=1)), attempts=1, backoff=0)
        for e in events:
            outcome = await consumer.process(raw[str(e.id)], origin="test")
            assert outcome.status in ("handled", "parked"), (e.type, outcome)
        keep = _notify_row if service == "notify" else (lambda _t, row: row)
        return await snapshot(engine, known, keep)
    finally:
        await engine.dispose()
        path.unlink()


def _diff(a: Snapshot, b: Snapshot) -> list[str]:
    out = []
    for name in sorted(set(a.tables) | set(b.tables)):
        x, y = a.tables.get(name, []), b.tables.get(name, [])
        if x != y:
            out.append(f"{name}: story order has {sorted(set(x) - set(y))[:2]}, flipped has {sorted(set(y) - set(x))[:2]}")
    return out


def _scratch(tmp_path: Path) -> Path:
    """Where the copies go: memory when the machine has a tmpfs (hundreds of small databases), else tmp_path."""
    shm = Path("/dev/shm")
    if shm.is_dir():
        folder = shm / f"closeloop-order-{uuid.uuid4()}"
        folder.mkdir()
        return folder
    return tmp_path


@pytest.mark.parametrize("service", ["verification", "scoring", "notify", "issues"])
async def test_every_pair_of_events_of_different_streams_in_both_orders_gives_one_state(
        service: str, tmp_path: Path) -> None:
    handlers: HandlerTable = importlib.import_module(f"services.{service}.app").SPEC.handlers
    template = tmp_path / "template.db"
    i1, i2 = await _template(service, template)
    told = story(i1, i2 if service == "issues" else None)
    missing = sorted(set(handlers.types()) - {e.type for e in told})
    assert missing == [], f"the story has no place for {missing}: tell it where {service} handles them"
    events = [e for e in told if e.type in handlers]
    known: set[str] = set()
    for e in events:
        known.add(str(e.id))
        _ids(e.data, known)
    known |= {i1, i2}

    raw = {str(e.id): e.model_dump(mode="json") for e in events}
    work = _scratch(tmp_path)
    base = await deliver(service, handlers, template, work, events, known, raw)
    assert base.tables.get("parked_event") == [] and base.tables.get("dead_letter") == []
    assert all(base.tables[t] for t in EXPECTED[service]), "the story must leave something to compare"
    pairs = [(i, j) for i in range(len(events)) for j in range(i + 1, len(events))
             if stream(events[i]) != stream(events[j])]
    assert pairs, f"{service}: no two events of different streams"
    failures = []
    for i, j in pairs:
        got = await deliver(service, handlers, template, work, flipped(events, i, j), known, raw)
        diff = _diff(base, got)
        if diff:
            failures.append(f"{events[j].type} before {events[i].type}: {diff}")
    if work != tmp_path:
        shutil.rmtree(work, ignore_errors=True)
    assert failures == [], f"{service}: {len(failures)} of {len(pairs)} flipped pairs differ:\n" + "\n".join(failures)
