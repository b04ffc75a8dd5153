"""Batches: many events in one transaction with their inbox rows; anything wrong and each is handled alone."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from contracts.events.issues import IssueRegistered, IssueStatusChanged
from runtime.consumer import Consumer, HandlerTable, issue_key
from runtime.models import DeadLetter, InboxRow, OutboxRow, ParkedEvent
from services.notify.store import IssueView
from services.scoring.store import IssueFact
from tests.issues.helpers import issue_by_code, load_reference
from tests.notify.helpers import VERIFICATION, early, registered
from tests.support import EventFactory, running


def issue(n: int) -> dict[str, Any]:
    return {"issue_id": f"i-{n}", "code": f"HH-{n}", "round_id": "r", "category": "air", "title": "扬尘治理",
            "responsible_org_id": "city-eeb", "supervising_org_id": "inspection-office", "deadline": "2020-12-31"}


async def count(rt, model) -> int:  # type: ignore[no-untyped-def]
    async with rt.read() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


def consumer_of(svc) -> Consumer:  # type: ignore[no-untyped-def]
    consumer = svc.rt.consumer
    assert consumer is not None
    return consumer  # type: ignore[no-any-return]


def raw(env) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return env.model_dump(mode="json")  # type: ignore[no-any-return]


async def test_a_batch_commits_every_effect_with_its_inbox_rows_and_redelivery_is_a_no_op(tmp_path: Path) -> None:
    async with running("scoring", tmp_path) as svc:
        f = EventFactory("issues")
        events = [f.make("issue.registered", f"i-{n}", issue(n)) for n in range(3)]
        ignored = f.make("issue.started", "i-0", {"issue_id": "i-0", "responsible_org_id": "city-eeb"})
        batch = [raw(events[0]), raw(events[1]), raw(events[0]), raw(ignored), raw(events[2])]
        consumer = consumer_of(svc)
        assert "issue.started" not in consumer.handlers
        calls: list[str] = []
        outcomes = await consumer.process_many(batch, origins=[f"t@{i}" for i in range(5)],
                                               before=lambda e: calls.append(str(e.id)))
        assert [o.status for o in outcomes] == ["handled", "handled", "duplicate", "ignored", "handled"]
        assert calls == [str(e.id) for e in events], "before() runs once per handled event, in order"
        assert await count(svc.rt, IssueFact) == 3 and await count(svc.rt, InboxRow) == 3
        again = await consumer.process_many(batch, origins=[f"t@{i}" for i in range(5)])
        assert [o.status for o in again] == ["duplicate", "duplicate", "duplicate", "ignored", "duplicate"]
        assert await count(svc.rt, IssueFact) == 3 and await count(svc.rt, InboxRow) == 3


async def test_a_failing_event_rolls_the_batch_back_and_each_event_is_then_handled_alone(tmp_path: Path) -> None:
    async with running("scoring", tmp_path, handler_attempts=1) as svc:
        f = EventFactory("issues")
        events = [f.make("issue.registered", f"i-{n}", issue(n)) for n in range(3)]
        consumer = consumer_of(svc)
        real = consumer.handlers.get("issue.registered")
        assert real is not None

        async def flaky(uow, envelope, payload) -> None:  # type: ignore[no-untyped-def]
            if payload.issue_id == "i-1":
                raise RuntimeError("the projection table is unavailable")
            await real.handler(uow, envelope, payload)

        consumer.handlers = consumer.handlers.replacing(IssueRegistered, flaky)
        outcomes = await consumer.process_many([raw(e) for e in events], origins=["a", "b", "c"])
        assert [o.status for o in outcomes] == ["handled", "dead", "handled"]
        async with svc.rt.read() as s:
            facts = sorted((await s.execute(select(IssueFact.issue_id))).scalars().all())
            inbox = (await s.execute(select(func.count()).select_from(InboxRow))).scalar_one()
            dead = (await s.execute(select(DeadLetter))).scalars().one()
        assert facts == ["i-0", "i-2"] and inbox == 2, "nothing of the failed batch stays twice"
        assert dead.event_id == str(events[1].id) and dead.origin == "b"


async def test_a_malformed_message_in_a_batch_is_dead_lettered_and_the_others_handled(tmp_path: Path) -> None:
    async with running("scoring", tmp_path) as svc:
        f = EventFactory("issues")
        good = [f.make("issue.registered", f"i-{n}", issue(n)) for n in range(2)]
        tampered = raw(f.make("issue.registered", "i-9", issue(9)))
        tampered["data"]["code"] = "HH-altered"
        outcomes = await consumer_of(svc).process_many([raw(good[0]), tampered, raw(good[1])],
                                                       origins=["a", "b", "c"])
        assert [o.status for o in outcomes] == ["handled", "dead", "handled"]
        assert await count(svc.rt, IssueFact) == 2 and await count(svc.rt, DeadLetter) == 1


async def test_an_event_that_must_wait_in_a_batch_is_parked_then_released_by_the_next(tmp_path: Path) -> None:
    async with running("notify", tmp_path, clock=early()) as svc:
        iid = str(uuid.uuid4())
        reopened = VERIFICATION.make("issue.reopened", iid, {
            "reopening_id": str(uuid.uuid4()), "issue_id": iid, "responsible_org_id": "city-eeb",
            "reason": "黑臭水体反弹"})
        outcomes = await consumer_of(svc).process_many([raw(reopened), raw(registered(iid, code="HH-B-1"))],
                                                       origins=["v@0", "i@0"])
        assert [o.status for o in outcomes] == ["parked", "handled"]
        assert await count(svc.rt, ParkedEvent) == 0, "released in the registration's transaction"
        async with svc.rt.read() as s:
            view = await s.get(IssueView, iid)
        assert view is not None and view.code == "HH-B-1"


async def test_events_a_batch_emits_are_in_the_outbox_chained_per_subject(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as svc:
        await load_reference(svc)
        iid = (await issue_by_code(svc, "HH-2020-010"))["id"]
        ver = EventFactory("verification")
        base = {"issue_id": iid, "responsible_org_id": "city-eeb", "supervising_org_id": "inspection-office",
                "closure_id": "c1"}
        requested = ver.make("closure.requested", "c1", {**base, "summary": "已完成", "evidence_ids": ["e1"]})
        accepted = ver.make("closure.accepted", "c1", {**base, "opinion": "核查属实"})
        before = await count(svc.rt, OutboxRow)
        outcomes = await consumer_of(svc).process_many([raw(requested), raw(accepted)], origins=["v@0", "v@1"])
        assert [o.status for o in outcomes] == ["handled", "handled"]
        async with svc.rt.read() as s:
            rows = (await s.execute(select(OutboxRow).where(OutboxRow.subject == iid)
                                    .order_by(OutboxRow.seq))).scalars().all()
        assert await count(svc.rt, OutboxRow) == before + 2
        moves = [r for r in rows if r.type == "issue.status_changed"]
        assert [m.seq for m in moves] == [rows[-2].seq, rows[-1].seq] and rows[-1].seq == rows[-2].seq + 1
        chain = [json.loads(r.envelope) for r in rows]
        assert all(b["prev_hash"] == a["hash"] for a, b in pairwise(chain)), "one chain"
        assert [json.loads(m.envelope)["data"]["to_status"] for m in moves] == ["closure_requested", "signed_off"]
        issue_now = (await svc.client.get(f"/v1/issues/{iid}", headers=svc.auth(roles="auditor"))).json()
        assert issue_now["status"] == "signed_off"


# ---- set-based handlers (HandlerTable.add(..., many=...)) ---------------------------------------------------------

def fact_events() -> list[dict[str, Any]]:
    """A stream as scoring reads it: registrations, an org between them, moves, an update and a refused extension."""
    f, orgs = EventFactory("issues"), EventFactory("issues")
    events = [f.make("issue.registered", f"i-{n}", issue(n)) for n in range(3)]
    events.append(orgs.make("org.registered", "org-x", {"org_id": "org-x", "name": "某区", "kind": "region"}))
    events += [f.make("issue.registered", f"i-{n}", issue(n)) for n in range(3, 5)]
    events += [f.make("issue.status_changed", f"i-{n}", {
        "issue_id": f"i-{n}", "from_status": "registered", "to_status": "in_progress", "action": "start"})
        for n in (0, 3)]
    events.append(f.make("issue.updated", "i-1", {**issue(1), "title": "扬尘治理(调整)", "changed": ["title"]}))
    events.append(f.make("issue.extension_decided", "i-2", {
        "issue_id": "i-2", "extension_id": "x-1", "approved": False, "previous_deadline": "2020-12-31",
        "deadline": "2021-03-31"}))
    return [raw(e) for e in events]


async def facts_of(rt) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    async with rt.read() as s:
        rows = (await s.execute(select(IssueFact).order_by(IssueFact.event_id))).scalars().all()
    return [tuple(v for k, v in sorted(r.model_dump().items())) for r in rows]


async def test_a_set_based_handler_leaves_the_state_one_event_at_a_time_leaves(tmp_path: Path) -> None:
    stream = fact_events()
    async with running("scoring", tmp_path / "one") as one, running("scoring", tmp_path / "many") as many:
        for i, message in enumerate(stream):
            assert (await consumer_of(one).process(message, origin=f"o@{i}")).status == "handled"
        consumer = consumer_of(many)
        route = consumer.handlers.get("issue.registered")
        assert route is not None and route.many is not None
        calls: list[int] = []
        real = route.many

        async def counting(run):  # type: ignore[no-untyped-def]
            calls.append(len(run))
            await real(run)

        shared = consumer.handlers
        consumer.handlers = shared.replacing_many("issue.registered", counting)
        assert shared.get("issue.registered").many is real, "the service's own table is left as it is"  # type: ignore[union-attr]
        outcomes = await consumer.process_many(stream, origins=[f"m@{i}" for i in range(len(stream))])
        assert all(o.status == "handled" for o in outcomes), outcomes
        assert calls == [3, 6], "one call for each run of fact events; the org registration splits them"
        assert await facts_of(many.rt) == await facts_of(one.rt)
        assert len(await facts_of(many.rt)) == len(stream) - 2, "the org is no issue fact; a refused extension none"


async def test_a_run_that_releases_parked_events_is_handled_one_event_at_a_time(tmp_path: Path) -> None:
    async with running("scoring", tmp_path) as svc:
        consumer = consumer_of(svc)
        table = HandlerTable()
        many_calls: list[int] = []
        real = consumer.handlers.get("issue.registered")
        assert real is not None and real.many is not None
        real_many = real.many

        async def many(run):  # type: ignore[no-untyped-def]
            many_calls.append(len(run))
            await real_many(run)

        table.add(IssueRegistered, real.handler, releases=lambda p: issue_key(p.issue_id), many=many)
        moved = consumer.handlers.get("issue.status_changed")
        assert moved is not None
        table.add(IssueStatusChanged, moved.handler)
        consumer.handlers = table
        f = EventFactory("issues")
        first = [f.make("issue.registered", f"i-{n}", issue(n)) for n in range(2)]
        outcomes = await consumer.process_many([raw(e) for e in first], origins=["a", "b"])
        assert [o.status for o in outcomes] == ["handled", "handled"] and many_calls == [2]
        waiting = f.make("issue.status_changed", "i-3", {
            "issue_id": "i-3", "from_status": "registered", "to_status": "in_progress", "action": "start"})
        async with svc.rt.sessions() as s, s.begin():
            s.add(ParkedEvent(consumer=consumer.name, key=issue_key("i-3"), event_id=str(waiting.id),
                              type=waiting.type, envelope=waiting.model_dump_json(), reason="issue unknown",
                              parked_at=datetime.now(UTC)))
        later = [f.make("issue.registered", f"i-{n}", issue(n)) for n in (2, 3, 4)]
        outcomes = await consumer.process_many([raw(e) for e in later], origins=["c", "d", "e"])
        assert [o.status for o in outcomes] == ["handled"] * 3
        assert many_calls == [2], "a parked event under the run's keys: each event alone, then its release"
        assert await count(svc.rt, ParkedEvent) == 0
        async with svc.rt.read() as s:
            released = await s.get(IssueFact, str(waiting.id))
        assert released is not None and released.to_status == "in_progress"


def test_replacing_a_handler_drops_its_set_based_form() -> None:
    from services.scoring.handlers import HANDLERS

    async def other(uow, envelope, payload) -> None:  # type: ignore[no-untyped-def]
        return None

    route = HANDLERS.replacing(IssueRegistered, other).get("issue.registered")
    assert route is not None and route.handler is other and route.many is None


async def test_a_feed_page_moves_its_cursor_in_the_batch_and_one_by_one_when_the_batch_fails(tmp_path: Path) -> None:
    async with running("scoring", tmp_path, handler_attempts=1) as svc:
        f = EventFactory("issues")
        events = [f.make("issue.registered", f"i-{n}", issue(n)) for n in range(4)]
        consumer = consumer_of(svc)
        outcomes = await consumer.process_many([raw(e) for e in events[:2]], origins=["issues@1", "issues@2"],
                                               feed="issues", positions=[1, 2])
        assert [o.status for o in outcomes] == ["handled", "handled"] and await consumer.cursor("issues") == 2
        real = consumer.handlers.get("issue.registered")
        assert real is not None

        async def flaky(uow, envelope, payload) -> None:  # type: ignore[no-untyped-def]
            if payload.issue_id == "i-3":
                raise RuntimeError("the projection table is unavailable")
            await real.handler(uow, envelope, payload)

        consumer.handlers = consumer.handlers.replacing(IssueRegistered, flaky)
        outcomes = await consumer.process_many([raw(e) for e in events[2:]], origins=["issues@3", "issues@4"],
                                               feed="issues", positions=[3, 4])
        assert [o.status for o in outcomes] == ["handled", "dead"]
        # the dead letter moved the cursor past its message too: the feed is not read again from 3
        assert await consumer.cursor("issues") == 4
        assert await count(svc.rt, IssueFact) == 3 and await count(svc.rt, DeadLetter) == 1
