"""Verification handlers on a bare runtime: what it learns of issues and rounds, and a reassignment."""

from __future__ import annotations

from datetime import date

from services.verification.store import KnownIssue, KnownRound
from tests.fast.conftest import RuntimeFactory
from tests.fast.helpers import deliver
from tests.support import EventFactory

ISSUE = {"issue_id": "i-1", "code": "HH-1", "round_id": "nm-2019", "category": "air", "title": "扬尘治理",
         "responsible_org_id": "city-eeb", "cooperating_org_ids": ["city-housing"],
         "supervising_org_id": "inspection-office", "deadline": "2020-12-31",
         "location": {"latitude": 40.84, "longitude": 111.75}}


async def test_a_registered_issue_is_known_with_who_applies_and_who_decides(service_runtime: RuntimeFactory) -> None:
    issues = EventFactory("issues")
    async with service_runtime("verification") as rt:
        assert await deliver(rt, issues.make("round.registered", "nm-2019", {
            "round_id": "nm-2019", "name": "自治区督察", "level": "regional", "feedback_on": "2020-05-17"})) == "handled"
        registered = issues.make("issue.registered", "i-1", ISSUE)
        assert await deliver(rt, registered) == "handled"
        assert await deliver(rt, registered) == "duplicate"
        async with rt.read() as session:
            issue = await session.get(KnownIssue, "i-1")
            rnd = await session.get(KnownRound, "nm-2019")
    assert issue is not None and rnd is not None
    assert (issue.responsible_org_id, issue.cooperating_org_ids, issue.supervising_org_id, issue.status) == (
        "city-eeb", ["city-housing"], "inspection-office", "registered")
    assert issue.location == {"latitude": 40.84, "longitude": 111.75}
    assert rnd.feedback_on == date(2020, 5, 17)


async def test_a_reassignment_changes_who_applies_and_who_decides(service_runtime: RuntimeFactory) -> None:
    issues = EventFactory("issues")
    async with service_runtime("verification") as rt:
        await deliver(rt, issues.make("issue.registered", "i-1", ISSUE))
        updated = {"issue_id": "i-1", "responsible_org_id": "saihan", "cooperating_org_ids": [],
                   "supervising_org_id": "city-eeb", "changed": ["responsible_org_id", "supervising_org_id"],
                   "category": "air", "title": "扬尘治理"}
        assert await deliver(rt, issues.make("issue.updated", "i-1", updated)) == "handled"
        async with rt.read() as session:
            issue = await session.get(KnownIssue, "i-1")
    assert issue is not None
    assert (issue.responsible_org_id, issue.cooperating_org_ids, issue.supervising_org_id) == ("saihan", [], "city-eeb")
