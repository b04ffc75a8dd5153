"""The set-based form of the issues' status projection (`on_verification_events`): a batch of verification events
leaves exactly the state and the events that handling them one at a time leaves, on SQLite and on PostgreSQL.

Both services are seeded alike with the same seeded ids and clock, then one handles the stream one event per
transaction (`Consumer.process`) and the other in one batch (`Consumer.process_many`): the issues, their history,
the outbox (event ids, seqs, hashes, canonical text, order), the chain heads and the inbox are compared whole."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from contracts import Actor
from contracts.events.verification import ClosureRequested
from runtime.clock import SeededIds, reset_ids, use_ids
from runtime.consumer import Consumer, HandlerTable
from runtime.models import InboxRow, OutboxRow, SubjectHead
from runtime.outbox import UnitOfWork
from services.issues.handlers import on_verification_events
from services.issues.store import Issue, Transition, get_issue
from tests.issues.helpers import ROUND, load_reference
from tests.support import EventFactory, Running, fixed_clock, running

T0 = datetime(2020, 9, 1, 2, 0, tzinfo=UTC)
VERIFIER = Actor(org="inspection-office", user="核查员", role="supervisor")
VERIFICATION_TYPES = ("closure.requested", "closure.accepted", "closure.rejected", "closure.filed",
                      "issue.reopened")


def stream(issues: dict[str, str], parent: str, child: str) -> list[dict[str, Any]]:
    """Verification's events over plain issues (several each, in one batch), an evidence file between them, and a
    sub-task's sign-off and rebound that reopen its signed-off parent (issue.parent_reopened)."""
    f = EventFactory("verification")
    n = 0

    def ev(type_: str, issue_id: str, **data: Any) -> dict[str, Any]:
        nonlocal n
        n += 1
        body = {"issue_id": issue_id, "responsible_org_id": issues.get(issue_id, "city-eeb"), **data}
        if type_.startswith("closure.") and type_ != "closure.filed":
            body = {"closure_id": f"c-{issue_id[:8]}", "supervising_org_id": "inspection-office", **body}
        return f.make(type_, issue_id, body, time=T0 + timedelta(minutes=n), actor=VERIFIER).model_dump(mode="json")

    a, b, c, d = sorted(issues)[:4]
    asked = {"summary": "已完成整改,申请销号", "evidence_ids": ["e-1"]}
    return [
        ev("closure.requested", a, **asked),
        ev("closure.requested", b, **asked),
        ev("closure.accepted", a, opinion="核查属实"),
        ev("closure.requested", c, **asked),
        ev("closure.rejected", b, opinion="证据不足", reason_code="insufficient_evidence"),
        ev("closure.filed", a),
        f.make("evidence.submitted", f"ev-{c[:8]}", {
            "evidence_id": f"ev-{c[:8]}", "issue_id": c, "kind": "photo", "sha256": "0" * 64, "size": 10,
            "media_type": "image/jpeg"}, time=T0, actor=VERIFIER).model_dump(mode="json"),
        ev("closure.requested", b, **{**asked, "attempt": 2}),
        ev("closure.requested", child, **asked),
        ev("closure.accepted", child, opinion="子任务核查属实"),
        ev("closure.requested", parent, **asked),
        ev("closure.accepted", c, opinion="核查属实"),
        ev("closure.accepted", parent, opinion="上级任务核查属实"),
        ev("issue.reopened", child, reopening_id="r-1", reason="黑臭水体反弹"),
        ev("issue.reopened", a, reopening_id="r-2", reason="扬尘问题反弹"),
        ev("closure.requested", d, **asked),
    ]


async def seeded(svc: Running) -> tuple[dict[str, str], str, str]:
    """The reference ledger and a sub-task under one of its issues: (plain issue id → responsible org, parent, child)."""
    await load_reference(svc)
    admin = svc.auth(org="inspection-office", roles="admin")
    items = (await svc.client.get("/v1/issues", params={"limit": 500}, headers=admin)).json()["items"]
    by_code = {i["code"]: i for i in sorted(items, key=lambda i: i["code"])}
    parent = by_code["HH-2020-010"]
    r = await svc.client.post("/v1/issues", headers=admin, json={
        "code": "HH-2020-010-1", "round_id": ROUND, "category": parent["category"], "title": "子任务:分解落实",
        "responsible_org_id": parent["responsible_org_id"], "supervising_org_id": "inspection-office",
        "deadline": parent["deadline"], "parent_id": parent["id"]})
    assert r.status_code == 201, r.text
    plain = {i["id"]: i["responsible_org_id"] for code, i in by_code.items() if code != "HH-2020-010"}
    return plain, parent["id"], r.json()["id"]


async def snapshot(svc: Running) -> dict[str, list[tuple[Any, ...]]]:
    def rows(objs: Any, *, skip: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
        return [tuple(v for k, v in sorted(o.model_dump().items()) if k not in skip) for o in objs]

    async with svc.rt.read() as s:
        return {
            "issues": rows((await s.execute(select(Issue).order_by(Issue.id))).scalars()),
            "history": rows((await s.execute(select(Transition).order_by(Transition.id))).scalars()),
            "outbox": rows((await s.execute(select(OutboxRow).order_by(OutboxRow.id))).scalars()),
            "heads": rows((await s.execute(select(SubjectHead).order_by(SubjectHead.subject))).scalars()),
            "inbox": rows((await s.execute(select(InboxRow).order_by(InboxRow.event_id))).scalars()),
        }


async def handled(svc: Running, messages: list[dict[str, Any]] | None, *, batched: bool
                  ) -> tuple[list[dict[str, Any]], dict[str, list[tuple[Any, ...]]], list[int], int]:
    """Seed, then handle the stream (made from this service's ids when not given): the stream, the snapshot, the
    sizes of the runs the set-based form got, and how many events the consumer handed to the one-event form."""
    consumer: Consumer | None = svc.rt.consumer
    assert consumer is not None
    token = use_ids(SeededIds("status-batch"))
    try:
        plain, parent, child = await seeded(svc)
        messages = messages or stream(plain, parent, child)
        runs: list[int] = []
        singles: list[str] = []
        table = HandlerTable()  # a copy: the service's table is shared by every instance in this process
        table._routes = dict(consumer.handlers._routes)
        routes = [table.get(type_) for type_ in VERIFICATION_TYPES]
        [many] = {r.many for r in routes if r is not None}
        [one] = {r.handler for r in routes if r is not None}
        assert many is not None, "one set-based form for every verification event"

        async def counting_many(run: Any) -> None:
            runs.append(len(run))
            await many(run)

        async def counting_one(uow: Any, envelope: Any, payload: Any) -> None:
            singles.append(envelope.type)
            await one(uow, envelope, payload)

        for type_, route in zip(VERIFICATION_TYPES, routes, strict=True):
            assert route is not None
            table._routes[type_] = dataclasses.replace(route, many=counting_many, handler=counting_one)
        consumer.handlers = table
        if batched:
            outcomes = await consumer.process_many(messages, origins=[f"v@{i}" for i in range(len(messages))])
        else:
            outcomes = [await consumer.process(m, origin=f"v@{i}") for i, m in enumerate(messages)]
        assert [o.status for o in outcomes] == ["handled"] * len(messages), outcomes
    finally:
        reset_ids(token)
    return messages, await snapshot(svc), runs, len(singles)


async def compare(one: Running, many: Running) -> None:
    messages, by_one, runs_one, singles_one = await handled(one, None, batched=False)
    _, by_many, runs_many, singles_many = await handled(many, messages, batched=True)
    assert runs_one == [] and singles_one == len(messages) - 1, "one by one: every event alone"
    assert runs_many == [6, 9] and singles_many == 0, "batched: two runs around the evidence, no event alone"
    for part in ("issues", "history", "outbox", "heads", "inbox"):
        assert by_many[part] == by_one[part], part
    async with many.rt.read() as s:
        status = {code: st for code, st in (await s.execute(select(Issue.code, Issue.status))).all()}
        types = list((await s.execute(select(OutboxRow.type).order_by(OutboxRow.id))).scalars())
    # one move per verification event, and the parent's reopening (announced, then moved) after its sub-task's
    assert types[-17:] == ["issue.status_changed"] * 13 + ["issue.parent_reopened"] + ["issue.status_changed"] * 3
    assert status["HH-2020-010"] == status["HH-2020-010-1"] == "in_progress", "the rebound reopened the parent"
    assert sorted(status.values()).count("closure_requested") == 2 and "filed" not in status.values()


async def test_a_batch_of_status_moves_leaves_what_one_at_a_time_leaves_on_sqlite(tmp_path: Path) -> None:
    clock_one, clock_many = fixed_clock("2020-09-02T08:00:00+00:00"), fixed_clock("2020-09-02T08:00:00+00:00")
    async with running("issues", tmp_path / "one", clock=clock_one, background=False) as one, \
            running("issues", tmp_path / "many", clock=clock_many, background=False) as many:
        await compare(one, many)


async def test_an_unknown_issue_or_a_refused_move_in_a_run_leaves_the_others_handled(tmp_path: Path) -> None:
    async with running("issues", tmp_path, handler_attempts=1, background=False) as svc:
        plain, _, _ = await seeded(svc)
        a, b = sorted(plain)[:2]
        f = EventFactory("verification")
        base = {"supervising_org_id": "inspection-office", "summary": "已完成", "evidence_ids": ["e-1"]}
        messages = [f.make("closure.requested", i, {"closure_id": f"c-{n}", "issue_id": i, "responsible_org_id":
                                                    plain.get(i, "city-eeb"), **base}, actor=VERIFIER)
                    .model_dump(mode="json") for n, i in enumerate((a, "no-such-issue", b, b))]
        consumer = svc.rt.consumer
        assert consumer is not None
        outcomes = await consumer.process_many(messages, origins=[f"v@{i}" for i in range(4)])
        # the run fails as a whole and is handled one by one: the unknown issue and the second request of b
        # (closure_requested already) are dead letters, the others applied once
        assert [o.status for o in outcomes] == ["handled", "dead", "handled", "dead"]
        async with svc.rt.read() as s:
            status = {i: st for i, st in (await s.execute(select(Issue.id, Issue.status))).all()}
            moves = (await s.execute(select(OutboxRow.subject).where(OutboxRow.type == "issue.status_changed")
                                     .order_by(OutboxRow.id))).scalars().all()
        assert status[a] == status[b] == "closure_requested" and moves == [a, b]


@pytest.mark.postgres
async def test_an_issue_object_the_session_holds_follows_the_set_based_write(tmp_path: Path, pg_url: str) -> None:
    # on PostgreSQL the issues are written with one UPDATE … FROM unnest(…), which the ORM does not see
    async with running("issues", tmp_path, clock=fixed_clock("2020-09-02T08:00:00+00:00"), background=False,
                       database_url=pg_url) as svc:
        plain, _, _ = await seeded(svc)
        a = sorted(plain)[0]
        env = EventFactory("verification").make("closure.requested", a, {
            "closure_id": "c-1", "issue_id": a, "responsible_org_id": plain[a],
            "supervising_org_id": "inspection-office", "summary": "已完成", "evidence_ids": ["e-1"]}, actor=VERIFIER)
        async with svc.rt.sessions() as s, s.begin():
            held = await get_issue(s, issue_id=a)
            assert held is not None and held.status == "registered"
            uow = UnitOfWork(session=s, service="issues", actor=env.actor, correlation_id=env.correlation_id,
                             causation_id=str(env.id), clock=svc.rt.clock)
            await on_verification_events([(uow, env, ClosureRequested.model_validate(env.data))])
            assert held.status == "closure_requested" and held.updated_at == svc.rt.clock.now()
        async with svc.rt.read() as s:
            stored = await get_issue(s, issue_id=a)
        assert stored is not None and stored.status == "closure_requested"


@pytest.mark.postgres
async def test_a_batch_of_status_moves_leaves_what_one_at_a_time_leaves_on_postgres(
        tmp_path: Path, pg_url_pair: tuple[str, str]) -> None:
    clock_one, clock_many = fixed_clock("2020-09-02T08:00:00+00:00"), fixed_clock("2020-09-02T08:00:00+00:00")
    async with running("issues", tmp_path / "one", clock=clock_one, background=False,
                       database_url=pg_url_pair[0]) as one, \
            running("issues", tmp_path / "many", clock=clock_many, background=False,
                    database_url=pg_url_pair[1]) as many:
        await compare(one, many)
