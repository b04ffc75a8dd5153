"""The consumer: redelivery is a no-op, failures are retried, poison goes to the dead letters and the consumer moves on."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from contracts.events.issues import IssueRegistered
from runtime.models import DeadLetter, InboxRow
from services.scoring.store import IssueFact
from tests.support import EventFactory, running

ISSUE = {
    "issue_id": "i-1", "code": "HH-1", "round_id": "r", "category": "air", "title": "扬尘治理",
    "responsible_org_id": "city-eeb", "supervising_org_id": "inspection-office", "deadline": "2020-12-31",
}


async def count(rt, model) -> int:  # type: ignore[no-untyped-def]
    async with rt.read() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def test_redelivered_event_is_a_no_op(tmp_path: Path) -> None:
    async with running("scoring", tmp_path) as svc:
        env = EventFactory("issues").make("issue.registered", "i-1", ISSUE)
        assert await svc.deliver(env) == "handled"
        assert await svc.deliver(env) == "duplicate"
        assert await svc.deliver(env) == "duplicate"
        assert await count(svc.rt, IssueFact) == 1
        assert await count(svc.rt, InboxRow) == 1


async def test_tampered_envelope_is_dead_lettered_with_its_error(tmp_path: Path) -> None:
    async with running("scoring", tmp_path) as svc:
        env = EventFactory("issues").make("issue.registered", "i-1", ISSUE).model_dump(mode="json")
        env["data"]["responsible_org_id"] = "someone-else"  # hash no longer matches
        assert await svc.deliver(env) == "dead"
        async with svc.rt.read() as s:
            dead = (await s.execute(select(DeadLetter))).scalars().one()
        assert "hash mismatch" in dead.error
        assert await count(svc.rt, IssueFact) == 0


async def test_poison_payload_goes_to_dead_letters_and_the_next_event_is_handled(tmp_path: Path) -> None:
    async with running("scoring", tmp_path) as svc:
        f = EventFactory("issues")
        bad = f.make("issue.registered", "i-0", {**ISSUE, "issue_id": "i-0", "deadline": "not a date"})
        good = f.make("issue.registered", "i-1", ISSUE)
        assert await svc.deliver(bad) == "dead"
        assert await svc.deliver(good) == "handled"
        r = await svc.client.get("/v1/dead-letters", headers=svc.auth(roles="auditor"))
        [item] = r.json()["items"]
        assert item["event_id"] == str(bad.id) and "does not validate" in item["error"]
        assert item["origin"] == "test"
        assert await count(svc.rt, IssueFact) == 1


async def test_handler_that_keeps_failing_is_retried_then_dead_lettered(tmp_path: Path) -> None:
    async with running("scoring", tmp_path, handler_attempts=3) as svc:
        calls = []

        async def broken(uow, envelope, payload) -> None:  # type: ignore[no-untyped-def]
            calls.append(envelope.id)
            raise RuntimeError("the projection table is unavailable")

        consumer = svc.rt.consumer
        assert consumer is not None
        consumer.handlers = consumer.handlers.replacing(IssueRegistered, broken)
        env = EventFactory("issues").make("issue.registered", "i-1", ISSUE)
        assert await svc.deliver(env) == "dead"
        assert len(calls) == 3
        async with svc.rt.read() as s:
            dead = (await s.execute(select(DeadLetter))).scalars().one()
        assert "projection table is unavailable" in dead.error and dead.event_id == str(env.id)
        assert await count(svc.rt, InboxRow) == 0


def test_a_handler_table_maps_an_event_class_once_and_knows_what_it_releases() -> None:
    import pytest

    from contracts.events.issues import IssueUpdated
    from runtime.consumer import HandlerTable, issue_key

    async def on_registered(uow, envelope, payload: IssueRegistered) -> None:  # type: ignore[no-untyped-def]
        return None

    table = HandlerTable()
    table.add(IssueRegistered, on_registered, releases=lambda p: issue_key(p.issue_id))
    assert table.types() == ["issue.registered"] and table.models() == [IssueRegistered]
    assert "issue.registered" in table and "issue.updated" not in table and len(table) == 1
    route = table.get("issue.registered")
    assert route is not None and route.releases is not None
    assert route.releases(IssueRegistered.model_validate({**ISSUE, "issue_id": "i-9"})) == "issue:i-9"
    with pytest.raises(ValueError, match="already"):
        table.add(IssueRegistered, on_registered)
    with pytest.raises(KeyError, match="not a registered event payload"):
        table.add(dict, on_registered)  # type: ignore[arg-type]
    replaced = table.replacing(IssueUpdated, on_registered)  # type: ignore[arg-type]
    assert replaced.types() == ["issue.registered", "issue.updated"] and table.types() == ["issue.registered"]
