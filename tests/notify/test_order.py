"""Events about an issue notify has not heard of yet are kept and applied when the issue arrives (never skipped)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from runtime.models import ParkedEvent
from services.notify.store import IssueView
from tests.notify.helpers import LEADER, VERIFICATION, early, inbox, moved, registered
from tests.support import running


async def _parked(s) -> int:  # type: ignore[no-untyped-def]
    async with s.rt.read() as session:
        return int((await session.execute(select(func.count()).select_from(ParkedEvent))).scalar_one())


async def test_the_leader_is_told_of_a_reopening_that_arrives_before_the_issue_registration(tmp_path: Path) -> None:
    async with running("notify", tmp_path, clock=early()) as s:
        admin = s.auth(org="inspection-office", roles="admin")
        r = await s.client.put(f"/v1/address-book/{LEADER}", headers=admin, json={"org_id": "city-government"})
        assert r.status_code == 200, r.text
        issue = str(uuid.uuid4())
        reopened = VERIFICATION.make("issue.reopened", issue, {
            "reopening_id": str(uuid.uuid4()), "issue_id": issue, "responsible_org_id": "city-eeb",
            "reason": "黑臭水体反弹"})
        assert await s.deliver(reopened) == "parked"  # the verification topic ran ahead of the issues topic
        assert await _parked(s) == 1 and await inbox(s, "city-government") == []
        assert await s.deliver(reopened) == "duplicate"  # kept once, in the inbox's transaction
        assert await s.deliver(registered(issue, code="HH-LATE-1")) == "handled"
        assert await _parked(s) == 0
        office = await inbox(s, "city-government")
        assert [(i["type"], i["recipient"]) for i in office] == [("issue.reopened", f"leader:{LEADER}")]
        assert "HH-LATE-1" in office[0]["title"] and "黑臭水体反弹" in office[0]["body"]
        assert sorted(i["type"] for i in await inbox(s, "city-eeb")) == ["issue.assigned", "issue.reopened"]


async def test_status_is_written_only_by_issue_status_changed_whatever_arrives_first(tmp_path: Path) -> None:
    async with running("notify", tmp_path, clock=early()) as s:
        issue = str(uuid.uuid4())
        accepted = VERIFICATION.make("closure.accepted", issue, {
            "closure_id": str(uuid.uuid4()), "issue_id": issue, "responsible_org_id": "city-eeb",
            "supervising_org_id": "inspection-office"})
        assert await s.deliver(registered(issue)) == "handled"
        assert await s.deliver(moved(accepted)) == "handled"   # the issues service's word came first
        assert await s.deliver(accepted) == "handled"          # verification's own event moves nothing
        async with s.rt.read() as session:
            view = await session.get(IssueView, issue)
        assert view is not None and view.status == "signed_off"
        assert [i["type"] for i in await inbox(s, "city-eeb", type="closure.accepted")] == ["closure.accepted"]


@pytest.mark.postgres
async def test_parking_and_release_racing_on_two_postgres_replicas_lose_nothing(tmp_path: Path, pg_url: str) -> None:
    async with (running("notify", tmp_path / "a", clock=early(), database_url=pg_url) as a,
                running("notify", tmp_path / "b", clock=early(), database_url=pg_url) as b):
        admin = a.auth(org="inspection-office", roles="admin")
        r = await a.client.put(f"/v1/address-book/{LEADER}", headers=admin, json={"org_id": "city-government"})
        assert r.status_code == 200, r.text
        issues = [str(uuid.uuid4()) for _ in range(12)]
        pairs = [(VERIFICATION.make("issue.reopened", i, {"reopening_id": str(uuid.uuid4()), "issue_id": i,
                                                          "responsible_org_id": "city-eeb", "reason": "反弹"}),
                  registered(i)) for i in issues]
        # each reopening and its issue's registration at the same moment, on different replicas
        outcomes = await asyncio.gather(*(rep.deliver(e) for n, pair in enumerate(pairs)
                                          for rep, e in zip((a, b) if n % 2 else (b, a), pair, strict=True)))
        assert set(outcomes) <= {"handled", "parked"}
        assert await _parked(a) == 0
        office = await inbox(a, "city-government", type="issue.reopened")
        assert len(office) == len(issues)
