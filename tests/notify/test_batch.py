"""notify's set-based handlers: a batch's run of issue and closure events handled at once (HandlerTable many=)
leaves the state, the log and the ids that handling them one at a time leaves, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import SQLModel

from runtime.clock import SeededIds, SettableClock, reset_ids, use_ids
from runtime.consumer import Consumer
from runtime.models import InboxRow, OutboxRow, SubjectHead
from services.notify.notices import Directory, LeaderTitle, Notices, Org, notify
from services.notify.store import InboxItem, Leader, OrgAddresses, Webhook
from tests.notify.helpers import ISSUES, LEADER, VERIFICATION, moved, org, registered, sh
from tests.support import Running, running

NOTIFY_TABLES = [t for t in SQLModel.metadata.sorted_tables if t.info.get("service") == "notify"]


def closure(type_: str, issue_id: str, closure_id: str, at: datetime, **extra: Any) -> Any:
    return VERIFICATION.make(type_, closure_id, time=at, data={
        "closure_id": closure_id, "issue_id": issue_id, "responsible_org_id": "city-eeb",
        "supervising_org_id": "inspection-office", **extra})


def stream() -> list[dict[str, Any]]:
    """What notify reads in a busy day: registrations (one with a cooperating org), progress reported twice for
    one issue (the second older), moves, a closure rejected then requested again and accepted, a rebound told
    to a leader with e-mail, a reassignment, an extension, a sub-task's rebound; an org registration between
    them (not in the set-based form: it splits the run) and one event delivered twice."""
    t = sh("2020-07-01T10:00")
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    events = [
        registered(a, cooperating=["city-water"], at=t),
        registered(b, responsible="city-water", leader=None, at=t),
        registered(c, responsible="saihan-district", at=t),
        ISSUES.make("issue.progress_reported", a, time=t + timedelta(hours=2), data={
            "issue_id": a, "responsible_org_id": "city-eeb", "note": "完成60%", "percent": 60}),
        ISSUES.make("issue.progress_reported", a, time=t + timedelta(hours=1), data={
            "issue_id": a, "responsible_org_id": "city-eeb", "note": "完成40%", "percent": 40}),
    ]
    requested = closure("closure.requested", a, first, t + timedelta(hours=3), summary="已完成拆改",
                        evidence_ids=["e1"])
    rejected = closure("closure.rejected", a, first, t + timedelta(hours=4), reason_code="superficial",
                       opinion="表面整改")
    events += [requested, moved(requested), rejected, moved(rejected)]
    events.append(org("city-new", "新设单位"))
    again = closure("closure.requested", a, second, t + timedelta(hours=5), summary="补充材料", evidence_ids=["e2"],
                    attempt=2)
    accepted = closure("closure.accepted", a, second, t + timedelta(hours=6), opinion="整改到位")
    events += [again, moved(again), accepted, moved(accepted)]
    events.append(VERIFICATION.make("issue.reopened", a, time=t + timedelta(hours=7), data={
        "reopening_id": str(uuid.uuid4()), "issue_id": a, "responsible_org_id": "city-eeb", "reason": "问题反弹"}))
    events.append(ISSUES.make("issue.updated", b, time=t + timedelta(hours=8), data={
        "issue_id": b, "responsible_org_id": "saihan-district", "supervising_org_id": "inspection-office",
        "cooperating_org_ids": ["city-eeb"], "category": "air", "title": "改为赛罕区牵头", "leader": LEADER,
        "changed": ["responsible_org_id", "cooperating_org_ids", "title", "leader"]}))
    events.append(ISSUES.make("issue.extension_decided", c, time=t + timedelta(hours=9), data={
        "issue_id": c, "extension_id": str(uuid.uuid4()), "approved": True, "previous_deadline": "2020-06-20",
        "deadline": "2020-09-30", "opinion": "同意"}))
    events.append(ISSUES.make("issue.parent_reopened", c, time=t + timedelta(hours=10), data={
        "issue_id": c, "child_issue_id": str(uuid.uuid4()), "child_code": "HH-C-1", "from_status": "signed_off",
        "reason": "子任务反弹", "cause_event_id": str(uuid.uuid4()), "responsible_org_id": "saihan-district"}))
    raw = [e.model_dump(mode="json") for e in events]
    return [*raw[:4], raw[3], *raw[4:]]  # the first progress report twice: a redelivery in the batch


async def address_book(s: Running) -> None:
    """Addresses, a leader's e-mail and webhooks (one for every trigger, one for assignments only): notices to
    them queue deliveries too."""
    now = datetime(2020, 6, 1, tzinfo=UTC)
    async with s.rt.sessions() as session, session.begin():
        session.add(OrgAddresses(org_id="city-eeb", emails=["eeb@example.cn", "eeb2@example.cn"], updated_at=now))
        session.add(Leader(title=LEADER, name="张三", org_id="city-gov", emails=["leader@example.cn"],
                           updated_at=now))
        session.add(Webhook(id="w-1", org_id="city-eeb", url="https://hooks.example.cn/a", secret="s" * 32,
                            event_types=[], created_at=now))
        session.add(Webhook(id="w-2", org_id="saihan-district", url="https://hooks.example.cn/b", secret="s" * 32,
                            event_types=["issue.assigned", "issue.reassigned"], created_at=now))


async def state(s: Running) -> dict[str, Any]:
    """Everything notify keeps, ids included, and its log (in order) with the inbox rows of the consumer."""
    out: dict[str, Any] = {}
    async with s.rt.read() as session:
        for table in NOTIFY_TABLES:
            rows = (await session.execute(select(table))).mappings().all()
            out[table.name] = sorted(json.dumps({k: str(v) for k, v in row.items()}, sort_keys=True) for row in rows)
        out["outbox"] = [r.envelope for r in (await session.execute(
            select(OutboxRow).order_by(OutboxRow.id))).scalars()]  # type: ignore[arg-type]
        out["heads"] = sorted((h.subject, h.seq, h.hash) for h in (await session.execute(select(SubjectHead))).scalars())
        out["inbox"] = sorted((r.event_id, r.type, str(r.processed_at)) for r in (await session.execute(
            select(InboxRow))).scalars())
    return out


def consumer_of(s: Running) -> Consumer:
    consumer = s.rt.consumer
    assert consumer is not None
    return consumer


async def one_and_many(tmp: Path, urls: tuple[str | None, str | None]) -> tuple[dict[str, Any], dict[str, Any],
                                                                                  list[int], list[str]]:
    events = stream()
    results = []
    calls: list[int] = []
    statuses: list[str] = []
    for n, (name, url) in enumerate((("one", urls[0]), ("many", urls[1]))):
        extra = {"database_url": url} if url else {}
        async with running("notify", tmp / name, clock=SettableClock(sh("2020-07-02T09:00")), background=False,
                           **extra) as s:
            await address_book(s)
            consumer = consumer_of(s)
            token = use_ids(SeededIds("batch"))  # the same ids, drawn in the same order, or the logs differ
            try:
                if n == 0:
                    statuses = [(await consumer.process(e, origin=f"one@{i}")).status for i, e in enumerate(events)]
                else:
                    route = consumer.handlers.get("closure.accepted")
                    assert route is not None and route.many is not None
                    real = route.many

                    async def counting(run, real=real):  # type: ignore[no-untyped-def]
                        calls.append(len(run))
                        await real(run)

                    consumer.handlers = consumer.handlers.replacing_many("closure.accepted", counting)
                    outcomes = await consumer.process_many(events, origins=[f"many@{i}" for i in range(len(events))])
                    assert [o.status for o in outcomes] == statuses
            finally:
                reset_ids(token)
            results.append(await state(s))
    return results[0], results[1], calls, statuses


async def test_a_run_handled_at_once_leaves_what_one_event_at_a_time_leaves(tmp_path: Path) -> None:
    one, many, calls, statuses = await one_and_many(tmp_path, (None, None))
    assert statuses.count("duplicate") == 1 and statuses.count("handled") == len(statuses) - 1
    assert calls == [9, 8], "one call for each run (the duplicate left out); the org registration splits the batch"
    assert one == many
    items = [json.loads(r) for r in many["notify_inbox"]]
    assert sorted({i["type"] for i in items}) == ["closure.accepted", "closure.rejected", "closure.requested",
                                                  "issue.assigned", "issue.parent_reopened", "issue.reassigned",
                                                  "issue.reopened"]
    assert any(i["recipient"] == f"leader:{LEADER}" for i in items)
    deliveries = [json.loads(r) for r in many["notify_delivery"]]
    assert {(d["channel"], d["target"]) for d in deliveries} >= {("email", "eeb2@example.cn"),
                                                                  ("email", "leader@example.cn"),
                                                                  ("webhook", "w-1"), ("webhook", "w-2")}
    assert not any(d["target"] == "w-2" and d["trigger"] == "closure.accepted" for d in deliveries)
    assert len(many["outbox"]) == len(items), "one notification.created per inbox item"
    view = next(json.loads(r) for r in many["notify_issue"] if json.loads(r)["progress_percent"] != "None")
    assert view["progress_percent"] == "60", "the later report stands, whatever the order they arrived in"
    assert {json.loads(r)["kind"] for r in many["notify_fact"]} == {"rejected", "signed_off", "reopened"}


@pytest.mark.postgres
async def test_on_postgres_a_run_handled_at_once_leaves_what_one_event_at_a_time_leaves(
        tmp_path: Path, pg_url_pair: tuple[str, str]) -> None:
    one, many, calls, _ = await one_and_many(tmp_path, pg_url_pair)
    assert calls == [9, 8]
    assert one == many
    assert len(many["notify_inbox"]) == len(many["outbox"]) > 10


async def test_notices_written_together_are_those_notify_writes_one_after_another(tmp_path: Path) -> None:
    """The same recipient twice in a notice, the same notice twice, an org and a leader named by id and title:
    `Notices.write` gives what one `notify` after another gives, ids and events included."""
    results = []
    for name in ("one", "many"):
        async with running("notify", tmp_path / name, clock=SettableClock(sh("2020-07-02T09:00")),
                           background=False) as s:
            await address_book(s)
            token = use_ids(SeededIds("notices"))
            try:
                async with s.rt.unit_of_work(_system()) as uow:
                    d = Directory(uow.session)
                    eeb = await d.org("city-eeb")
                    to: list[Any] = [eeb, Org("city-eeb"), LeaderTitle(LEADER), Org("city-water")]
                    notices = [dict(trigger="digest.weekly", key="k-1", subject="s", title="一", body="甲",
                                    recipients=to),
                               dict(trigger="digest.weekly", key="k-1", subject="s", title="一", body="甲",
                                    recipients=[Org("city-water"), Org("saihan-district")]),
                               dict(trigger="digest.weekly", key="k-2", subject="s", title="二", body="乙",
                                    recipients=[LeaderTitle("未登记的领导")])]
                    if name == "one":
                        created = [await notify(uow, **n) for n in notices]  # type: ignore[arg-type]
                    else:
                        batch = Notices(uow.session)
                        for n in notices:
                            batch.add(uow, **n)  # type: ignore[arg-type]
                        created = await batch.write()
            finally:
                reset_ids(token)
            assert [len(c) for c in created] == [3, 1, 1]
            results.append((created, await state(s)))
    assert results[0][0] == results[1][0]
    assert {k: v for k, v in results[0][1].items() if v != results[1][1][k]} == {}
    async with running("notify", tmp_path / "one", clock=SettableClock(sh("2020-07-02T09:00"))) as s:
        async with s.rt.read() as session:
            keys = sorted((await session.execute(select(InboxItem.dedupe_key, InboxItem.recipient))).all())
    assert keys == [("k-1", "city-eeb"), ("k-1", "city-water"), ("k-1", f"leader:{LEADER}"),
                    ("k-1", "saihan-district"), ("k-2", "leader:未登记的领导")]


def _system() -> Any:
    from runtime.auth import Principal

    return Principal(sub="service:notify", org=None, roles=frozenset({"system"}))
