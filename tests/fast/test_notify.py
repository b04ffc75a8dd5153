"""Notify handlers on a bare runtime: who is told of an assignment and of a closure request, and only once."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from runtime.bootstrap import Runtime
from services.notify.store import InboxItem
from tests.fast.conftest import RuntimeFactory
from tests.fast.helpers import deliver
from tests.notify.helpers import VERIFICATION, registered


async def _inbox(rt: Runtime) -> list[tuple[str, str, str]]:
    async with rt.read() as session:
        rows = (await session.execute(select(InboxItem).order_by(col(InboxItem.created_at), col(InboxItem.recipient))
                                      )).scalars().all()
    return [(r.recipient, r.type, r.title) for r in rows]


async def test_an_assignment_tells_the_responsible_org_and_copies_the_cooperating_ones(
        service_runtime: RuntimeFactory) -> None:
    async with service_runtime("notify") as rt:
        event = registered("i-1", code="HH-1", cooperating=["city-housing"])
        assert await deliver(rt, event) == "handled"
        assert await deliver(rt, event) == "duplicate"
        inbox = await _inbox(rt)
    assert sorted(inbox) == [
        ("city-eeb", "issue.assigned", "整改任务交办:HH-1 全市细颗粒物(PM2.5)年均浓度实现达标"),
        ("city-housing", "issue.assigned", "(抄送)整改任务交办:HH-1 全市细颗粒物(PM2.5)年均浓度实现达标"),
    ]


async def test_a_closure_request_tells_the_supervising_org(service_runtime: RuntimeFactory) -> None:
    async with service_runtime("notify") as rt:
        await deliver(rt, registered("i-1", code="HH-1"))
        requested = VERIFICATION.make("closure.requested", "i-1", {
            "closure_id": "c-1", "issue_id": "i-1", "responsible_org_id": "city-eeb",
            "supervising_org_id": "inspection-office", "summary": "已完成整改", "evidence_ids": ["e-1"]})
        assert await deliver(rt, requested) == "handled"
        told = [row for row in await _inbox(rt) if row[1] == "closure.requested"]
    assert told == [("inspection-office", "closure.requested", "销号申请待核查:HH-1")]
