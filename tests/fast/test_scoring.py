"""Scoring handlers on a bare runtime: an assessee's zone type, issue facts kept once with their event time."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlmodel import col

from services.scoring.store import IssueEventFact, OrgFact
from tests.fast.conftest import RuntimeFactory
from tests.fast.helpers import deliver
from tests.support import EventFactory

ISSUE = {"issue_id": "i-1", "code": "HH-1", "round_id": "r", "category": "air", "title": "扬尘治理",
         "responsible_org_id": "saihan", "supervising_org_id": "inspection-office", "deadline": "2020-12-31",
         "target": {"indicator": "pm25", "op": "<=", "value": 35, "unit": "µg/m³"}}


async def test_the_later_org_registration_sets_the_zone_type(service_runtime: RuntimeFactory) -> None:
    issues = EventFactory("issues")
    first = datetime(2020, 5, 1, tzinfo=UTC)
    async with service_runtime("scoring") as rt:
        later = issues.make("org.registered", "saihan", {"org_id": "saihan", "name": "赛罕区", "kind": "region",
                                                         "zone_type": "urban_core"}, time=first.replace(day=2))
        earlier = issues.make("org.registered", "saihan", {"org_id": "saihan", "name": "赛罕区", "kind": "region",
                                                           "zone_type": "ecological"}, time=first)
        assert await deliver(rt, later) == "handled"
        assert await deliver(rt, earlier) == "handled"
        async with rt.read() as session:
            org = await session.get(OrgFact, "saihan")
    assert org is not None and (org.kind, org.zone_type) == ("region", "urban_core")


async def test_an_issue_event_is_kept_once_with_its_deadline_and_target(service_runtime: RuntimeFactory) -> None:
    async with service_runtime("scoring") as rt:
        registered = EventFactory("issues").make("issue.registered", "i-1", ISSUE)
        assert await deliver(rt, registered) == "handled"
        assert await deliver(rt, registered) == "duplicate"
        async with rt.read() as session:
            facts = (await session.execute(select(IssueEventFact)
                                           .where(col(IssueEventFact.issue_id) == "i-1"))).scalars().all()
    [fact] = facts
    assert (fact.event_id, fact.type, fact.org_id, fact.deadline) == (
        str(registered.id), "issue.registered", "saihan", date(2020, 12, 31))
    assert (fact.target_indicator, fact.target_op, fact.target_value) == ("pm25", "<=", 35)
    assert fact.time == registered.time
