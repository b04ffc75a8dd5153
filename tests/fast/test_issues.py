"""Issues handlers on a bare runtime: commands commit their events, verification's events move the status once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from contracts.enums import OrgKind, RoundLevel
from contracts.events.issues import OrgRegistered, RoundRegistered
from runtime.bootstrap import Runtime
from runtime.errors import Conflict
from services.issues import handlers
from services.issues.store import Issue, Transition
from tests.fast.conftest import RuntimeFactory
from tests.fast.helpers import ADMIN, deliver, logged
from tests.support import EventFactory


async def _issue(rt: Runtime) -> Issue:
    fields: dict[str, Any] = {
        "code": "HH-2020-001", "round_id": "nm-2019", "category": "air", "title": "扬尘污染治理不到位",
        "description": None, "region_id": None, "responsible_org_id": "city-eeb", "cooperating_org_ids": [],
        "supervising_org_id": "inspection-office", "leader": "分管副市长(生态环境)", "deadline": "2020-12-31",
        "target": None, "measures": None, "location": None,
    }
    async with rt.unit_of_work(ADMIN) as uow:
        for org_id, kind in (("city-eeb", OrgKind.department), ("inspection-office", OrgKind.inspection_office)):
            await handlers.register_org(uow, cmd=OrgRegistered(org_id=org_id, name=org_id, kind=kind))
        await handlers.register_round(uow, cmd=RoundRegistered(round_id="nm-2019", name="自治区督察",
                                                               level=RoundLevel.regional))
        return await handlers.register_issue(uow, fields=fields)


async def test_registering_an_org_twice_is_refused_and_logs_one_event(service_runtime: RuntimeFactory) -> None:
    async with service_runtime("issues") as rt:
        cmd = OrgRegistered(org_id="city-eeb", name="市生态环境局", kind=OrgKind.department)
        async with rt.unit_of_work(ADMIN) as uow:
            await handlers.register_org(uow, cmd=cmd)
        with pytest.raises(Conflict, match="already exists"):
            async with rt.unit_of_work(ADMIN) as uow:
                await handlers.register_org(uow, cmd=cmd)
        log = await logged(rt)
    assert [(e["type"], e["subject"], e["data"]["name"]) for e in log] == [
        ("org.registered", "city-eeb", "市生态环境局")]


async def test_a_closure_request_moves_the_issue_once_even_when_redelivered(service_runtime: RuntimeFactory) -> None:
    async with service_runtime("issues") as rt:
        issue = await _issue(rt)
        requested = EventFactory("verification").make("closure.requested", issue.id, {
            "closure_id": "c-1", "issue_id": issue.id, "responsible_org_id": "city-eeb",
            "supervising_org_id": "inspection-office", "summary": "已完成整改", "evidence_ids": ["e-1"]})
        assert await deliver(rt, requested) == "handled"
        assert await deliver(rt, requested) == "duplicate"
        async with rt.read() as session:
            status = (await session.get(Issue, issue.id)).status  # type: ignore[union-attr]
            moves = (await session.execute(select(col(Transition.to_status))
                                           .where(col(Transition.issue_id) == issue.id))).scalars().all()
        changes = [e for e in await logged(rt) if e["type"] == "issue.status_changed"]
    assert status == "closure_requested"
    assert list(moves).count("closure_requested") == 1
    [change] = changes
    assert change["data"]["from_status"] == "registered" and change["data"]["to_status"] == "closure_requested"
    assert change["data"]["cause_event_id"] == str(requested.id) and change["causation_id"] == str(requested.id)
