"""Notices issued at once on events: assignment, reassignment, closure requested/accepted/rejected, reopened."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import func, select

from services.notify.handlers import HANDLERS
from services.notify.store import Delivery, InboxItem
from tests.notify.helpers import ISSUES, LEADER, VERIFICATION, early, inbox, registered
from tests.support import running


def new_id() -> str:
    return str(uuid.uuid4())


def closure(type_: str, issue_id: str, **extra: object):  # type: ignore[no-untyped-def]
    data = {"closure_id": new_id(), "issue_id": issue_id, "responsible_org_id": "city-eeb",
            "supervising_org_id": "inspection-office", **extra}
    return VERIFICATION.make(type_, issue_id, data)


async def test_assignment_goes_to_the_responsible_org_with_cooperating_orgs_in_copy(tmp_path: Path) -> None:
    async with running("notify", tmp_path, clock=early()) as s:
        issue = new_id()
        assert await s.deliver(registered(issue, cooperating=["city-water"])) == "handled"
        lead = await inbox(s, "city-eeb")
        copy = await inbox(s, "city-water")
        assert [(i["type"], i["subject"]) for i in lead] == [("issue.assigned", issue)]
        assert "整改任务交办" in lead[0]["title"] and "2020-06-20" in lead[0]["body"]
        assert lead[0]["read_at"] is None and lead[0]["created_at"]
        assert [i["type"] for i in copy] == ["issue.assigned"] and copy[0]["title"].startswith("(抄送)")
        assert await inbox(s, "inspection-office") == []


async def test_reassignment_is_announced_only_when_responsible_or_cooperating_orgs_change(tmp_path: Path) -> None:
    async with running("notify", tmp_path, clock=early()) as s:
        issue = new_id()
        await s.deliver(registered(issue))
        base = {"issue_id": issue, "responsible_org_id": "city-eeb", "supervising_org_id": "inspection-office",
                "category": "air", "title": "改了标题", "leader": LEADER}
        await s.deliver(ISSUES.make("issue.updated", issue, {**base, "changed": ["title"]}))
        assert await inbox(s, "city-eeb", type="issue.reassigned") == []
        await s.deliver(ISSUES.make("issue.updated", issue, {**base, "changed": ["responsible_org_id"],
                                                             "responsible_org_id": "saihan-district"}))
        items = await inbox(s, "saihan-district")
        assert [(i["type"], i["subject"]) for i in items] == [("issue.reassigned", issue)]
        assert "改了标题" in items[0]["body"]


async def test_closure_requested_goes_to_the_supervising_org(tmp_path: Path) -> None:
    async with running("notify", tmp_path, clock=early()) as s:
        issue = new_id()
        await s.deliver(registered(issue))
        await s.deliver(closure("closure.requested", issue, summary="已完成燃煤锅炉拆改", evidence_ids=["e1"]))
        items = await inbox(s, "inspection-office")
        assert [(i["type"], i["subject"]) for i in items] == [("closure.requested", issue)]
        assert "已完成燃煤锅炉拆改" in items[0]["body"]
        assert [i["type"] for i in await inbox(s, "city-eeb")] == ["issue.assigned"]


async def test_rejection_reaches_the_responsible_org_with_the_opinion(tmp_path: Path) -> None:
    async with running("notify", tmp_path, clock=early()) as s:
        issue = new_id()
        await s.deliver(registered(issue))
        await s.deliver(closure("closure.rejected", issue, opinion="现场仍有散煤堆放", reason_code="superficial"))
        items = await inbox(s, "city-eeb", type="closure.rejected")
        assert len(items) == 1 and items[0]["subject"] == issue
        assert "现场仍有散煤堆放" in items[0]["body"] and "表面整改" in items[0]["body"]


async def test_acceptance_reaches_the_responsible_org(tmp_path: Path) -> None:
    async with running("notify", tmp_path, clock=early()) as s:
        issue = new_id()
        await s.deliver(registered(issue))
        await s.deliver(closure("closure.accepted", issue, opinion="现场核查属实"))
        items = await inbox(s, "city-eeb", type="closure.accepted")
        assert len(items) == 1 and "现场核查属实" in items[0]["body"]


async def test_reopening_reaches_the_responsible_org_and_the_leader_in_charge(tmp_path: Path) -> None:
    async with running("notify", tmp_path, clock=early()) as s:
        admin = s.auth(org="inspection-office", roles="admin")
        r = await s.client.put(f"/v1/address-book/{LEADER}", headers=admin,
                               json={"name": "张三", "org_id": "city-government", "emails": ["vice-mayor@example.cn"]})
        assert r.status_code == 200, r.text
        issue = new_id()
        await s.deliver(registered(issue))
        await s.deliver(VERIFICATION.make("issue.reopened", issue, {
            "reopening_id": new_id(), "issue_id": issue, "responsible_org_id": "city-eeb", "reason": "黑臭水体反弹"}))
        assert [i["type"] for i in await inbox(s, "city-eeb", type="issue.reopened")] == ["issue.reopened"]
        office = await inbox(s, "city-government")
        assert [(i["type"], i["recipient"]) for i in office] == [("issue.reopened", f"leader:{LEADER}")]
        by_title = await inbox(s, None, leader=LEADER)
        assert [i["id"] for i in by_title] == [office[0]["id"]] and "黑臭水体反弹" in office[0]["body"]
        assert [(d["channel"], d["target"]) for d in await _deliveries(s)] == [("email", "vice-mayor@example.cn")]


async def _deliveries(s):  # type: ignore[no-untyped-def]
    r = await s.client.get("/v1/deliveries", headers=s.auth(org="inspection-office", roles="admin"))
    return r.json()["items"]


async def test_redelivered_event_and_a_lost_consumer_inbox_add_no_second_notice(tmp_path: Path) -> None:
    async with running("notify", tmp_path, clock=early()) as s:
        admin = s.auth(org="inspection-office", roles="admin")
        await s.client.put("/v1/recipients/city-eeb", headers=admin, json={"emails": ["eeb@example.cn"]})
        issue = new_id()
        env = registered(issue)
        assert await s.deliver(env) == "handled"
        assert await s.deliver(env) == "duplicate"
        # the handler itself run again with the same event (as a second replica would): the unique keys hold
        from contracts.registry import parse_data
        async with s.rt.unit_of_work(_system(), role="system") as uow:
            route = HANDLERS.get("issue.registered")
            assert route is not None
            await route.handler(uow, env, parse_data(env.type, env.version, env.data))
        async with s.rt.read() as session:
            items = (await session.execute(select(func.count()).select_from(InboxItem))).scalar_one()
            sent = (await session.execute(select(func.count()).select_from(Delivery))).scalar_one()
        assert (items, sent) == (1, 1)
        created = [e for e in await s.events() if e["type"] == "notification.created"]
        assert len(created) == 1 and created[0]["data"]["trigger"] == "issue.assigned"


def _system():  # type: ignore[no-untyped-def]
    from services.notify.digests import SYSTEM
    return SYSTEM


async def test_reading_an_item_marks_it_read_only_for_its_own_org(tmp_path: Path) -> None:
    async with running("notify", tmp_path, clock=early()) as s:
        await s.deliver(registered(new_id()))
        item = (await inbox(s, "city-eeb"))[0]
        r = await s.client.post(f"/v1/inbox/{item['id']}/read", headers=s.auth(org="city-water", roles="responsible"))
        assert r.status_code == 404
        r = await s.client.post(f"/v1/inbox/{item['id']}/read", headers=s.auth(org="city-eeb", roles="responsible"))
        assert r.status_code == 200 and r.json()["read_at"]
        assert await inbox(s, "city-eeb", unread=True) == []
