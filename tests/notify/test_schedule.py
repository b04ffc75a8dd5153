"""Reminders and the cadence, driven by a settable clock: due times, catch-up, restarts, replicas, crashes."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from runtime.clock import SettableClock
from services.notify import digests
from services.notify.digests import run_reminders, tick
from services.notify.store import InboxItem
from tests.notify.helpers import ISSUES, LEADER, SCORING, VERIFICATION, inbox, moved, org, registered, sh
from tests.support import running


def new_id() -> str:
    return str(uuid.uuid4())


async def types_of(s, org_id: str, **params: object) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return sorted((i["type"], i["subject"]) for i in await inbox(s, org_id, **params))


async def test_deadline_near_overdue_and_escalation_fall_due_on_their_days(tmp_path: Path) -> None:
    clock = SettableClock(sh("2020-06-01T10:00"))
    async with running("notify", tmp_path, clock=clock) as s:
        issue = new_id()
        await s.deliver(registered(issue, deadline="2020-06-20"))
        steps = [
            # 7 days before is Saturday 13 June, a day off: the reminder moves to Friday 12 June
            ("2020-06-12T08:59", None, []),
            ("2020-06-12T09:00", "deadline.near", ["city-eeb"]),
            ("2020-06-13T09:00", None, []),
            ("2020-06-19T09:00", "deadline.near", ["city-eeb"]),
            ("2020-06-20T23:59", None, []),
            ("2020-06-21T09:00", "issue.overdue", ["city-eeb", "inspection-office"]),
            ("2020-07-05T09:00", None, []),  # 15 days overdue: not yet escalated
            ("2020-07-06T09:00", "issue.escalated", [f"leader:{LEADER}"]),
            ("2020-08-01T09:00", None, []),
        ]
        for when, trigger, recipients in steps:
            clock.set(sh(when))
            before = await _all(s)
            await tick(s.rt)
            await tick(s.rt)  # a second tick at the same moment adds nothing
            new = sorted(n for n in set(await _all(s)) - set(before) if not n[0].startswith("digest."))
            assert [(t, r) for t, r, _ in new] == [(trigger, r) for r in sorted(recipients)], when
        near = await inbox(s, "city-eeb", type="deadline.near")
        assert sorted(i["title"] for i in near) == [f"整改时限临近:HH-{issue}(还剩1天)",
                                                    f"整改时限临近:HH-{issue}(还剩7天)"]


async def _all(s) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    async with s.rt.read() as session:
        rows = (await session.execute(select(InboxItem.type, InboxItem.recipient, InboxItem.id))).all()
    return [tuple(r) for r in rows]


async def test_signed_off_issue_gets_no_more_reminders(tmp_path: Path) -> None:
    clock = SettableClock(sh("2020-06-01T10:00"))
    async with running("notify", tmp_path, clock=clock) as s:
        issue = new_id()
        await s.deliver(registered(issue, deadline="2020-06-20"))
        accepted = VERIFICATION.make("closure.accepted", issue, {
            "closure_id": new_id(), "issue_id": issue, "responsible_org_id": "city-eeb",
            "supervising_org_id": "inspection-office"})
        await s.deliver(accepted)
        await s.deliver(moved(accepted))  # the status comes from the issues service
        clock.set(sh("2020-07-10T10:00"))
        assert (await tick(s.rt))["reminders"] == 0
        assert [t for t, _ in await types_of(s, "city-eeb")] == ["closure.accepted", "issue.assigned"]


async def test_approved_extension_moves_the_reminders_to_the_new_deadline(tmp_path: Path) -> None:
    clock = SettableClock(sh("2020-06-14T10:00"))
    async with running("notify", tmp_path, clock=clock) as s:
        issue = new_id()
        await s.deliver(registered(issue, deadline="2020-06-20"))
        await tick(s.rt)
        assert await types_of(s, "city-eeb", type="deadline.near") == [("deadline.near", issue)]
        await s.deliver(ISSUES.make("issue.extension_decided", issue, {
            "issue_id": issue, "extension_id": new_id(), "approved": True, "previous_deadline": "2020-06-20",
            "deadline": "2020-09-30"}))
        clock.set(sh("2020-06-22T10:00"))
        await tick(s.rt)
        assert await types_of(s, "city-eeb", type="issue.overdue") == []
        clock.set(sh("2020-09-23T09:00"))
        await tick(s.rt)
        assert len(await inbox(s, "city-eeb", type="deadline.near")) == 2


async def test_after_downtime_the_due_overdue_notice_is_caught_up_and_stale_near_ones_dropped(
        tmp_path: Path) -> None:
    clock = SettableClock(sh("2020-06-01T10:00"))
    async with running("notify", tmp_path, clock=clock) as s:
        issue = new_id()
        await s.deliver(registered(issue, deadline="2020-06-20"))
    clock.set(sh("2020-06-25T15:00"))  # down from 1 to 25 June
    async with running("notify", tmp_path, clock=clock) as s:
        await tick(s.rt)
        assert await types_of(s, "city-eeb") == [("issue.assigned", issue), ("issue.overdue", issue)]
        assert await types_of(s, "inspection-office") == [("issue.overdue", issue)]


async def _issues_for_two_orgs(s) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    await s.deliver(org("city-eeb", "呼和浩特市生态环境局"))
    await s.deliver(org("saihan-district", "赛罕区", "region"))
    late, soon = new_id(), new_id()
    await s.deliver(registered(late, deadline="2020-06-01", code="HH-2020-001"))
    await s.deliver(registered(soon, deadline="2020-06-12", code="HH-2020-002", responsible="saihan-district"))
    await s.deliver(registered(new_id(), deadline="2020-12-31", code="HH-2020-003"))
    await s.deliver(ISSUES.make("issue.progress_reported", late, {
        "issue_id": late, "responsible_org_id": "city-eeb", "note": "已完成燃煤锅炉拆除30台", "percent": 60}))
    return late, soon


async def test_weekly_dispatch_goes_to_each_org_on_monday_0900_with_its_last_progress(tmp_path: Path) -> None:
    clock = SettableClock(sh("2020-06-07T12:00"))  # a Sunday
    async with running("notify", tmp_path, clock=clock) as s:
        await tick(s.rt)  # the schedules start now (the background task may not have ticked yet)
        await _issues_for_two_orgs(s)
        clock.set(sh("2020-06-08T08:59"))
        assert (await tick(s.rt))["weekly"] is None
        clock.set(sh("2020-06-08T09:00"))
        result = (await tick(s.rt))["weekly"]
        assert result["period"] == "2020-W24" and result["recipients"] == 2
        assert (await tick(s.rt))["weekly"] is None
        eeb = await inbox(s, "city-eeb", type="digest.weekly")
        saihan = await inbox(s, "saihan-district", type="digest.weekly")
        assert [i["subject"] for i in eeb + saihan] == ["2020-W24", "2020-W24"]
        body = eeb[0]["body"]
        assert "在办整改任务 2 项" in body and "逾期 1 项" in body
        assert "HH-2020-001" in body and "已完成燃煤锅炉拆除30台" in body and "60%" in body
        assert "HH-2020-003" in body and "最新进展:暂无" in body
        assert "【即将到期】" in saihan[0]["body"] and "HH-2020-002" in saihan[0]["body"]
        assert "呼和浩特市生态环境局" in eeb[0]["title"]
        published = [e for e in await s.events() if e["type"] == "digest.published"]
        assert [(e["data"]["kind"], e["data"]["origin"]) for e in published] == [("weekly", "schedule")]


async def test_restart_neither_repeats_nor_skips_the_weekly_dispatch_and_catches_up_once(tmp_path: Path) -> None:
    clock = SettableClock(sh("2020-06-07T12:00"))
    async with running("notify", tmp_path, clock=clock) as s:
        await tick(s.rt)  # the schedules start now (the background task may not have ticked yet)
        await _issues_for_two_orgs(s)
        clock.set(sh("2020-06-08T09:30"))
        await tick(s.rt)
    async with running("notify", tmp_path, clock=clock) as s:  # restarted the same morning
        await tick(s.rt)
        assert [i["subject"] for i in await inbox(s, "city-eeb", type="digest.weekly")] == ["2020-W24"]
    clock.set(sh("2020-07-01T11:00"))  # down for three Mondays
    async with running("notify", tmp_path, clock=clock) as s:
        await tick(s.rt)
        await tick(s.rt)
        subjects = sorted(i["subject"] for i in await inbox(s, "city-eeb", type="digest.weekly"))
        assert subjects == ["2020-W24", "2020-W27"]


async def test_a_crash_in_the_middle_of_a_reminder_run_then_restart_issues_each_notice_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = SettableClock(sh("2020-06-01T10:00"))
    async with running("notify", tmp_path, clock=clock) as s:
        ids = [new_id() for _ in range(6)]
        for i in ids:
            await s.deliver(registered(i, deadline="2020-06-10"))
        clock.set(sh("2020-06-12T10:00"))
        real = digests.notify
        calls = 0

        async def flaky(*args: object, **kw: object) -> list[str]:
            nonlocal calls
            calls += 1
            if calls == 4:
                raise RuntimeError("power cut")
            return await real(*args, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(digests, "notify", flaky)
        with pytest.raises(RuntimeError):
            await run_reminders(s.rt, clock.now(), batch=2)
        monkeypatch.setattr(digests, "notify", real)
        assert len(await inbox(s, "inspection-office")) == 2  # the first batch committed, the second rolled back
    async with running("notify", tmp_path, clock=clock) as s:
        await tick(s.rt)
        overdue = await inbox(s, "city-eeb", type="issue.overdue")
        assert sorted(i["subject"] for i in overdue) == sorted(ids)
        assert len(await inbox(s, "inspection-office", type="issue.overdue")) == 6


async def test_two_replicas_on_one_database_issue_each_notice_once(tmp_path: Path) -> None:
    clock = SettableClock(sh("2020-06-07T12:00"))
    async with running("notify", tmp_path, clock=clock) as a, running("notify", tmp_path, clock=clock) as b:
        events = [registered(new_id(), deadline="2020-06-10") for _ in range(5)]
        await asyncio.gather(*(r.deliver(e) for e in events for r in (a, b)))
        await asyncio.gather(tick(a.rt), tick(b.rt))  # the 7-day reminders fell due on 3 June
        clock.set(sh("2020-06-15T09:30"))
        await asyncio.gather(tick(a.rt), tick(b.rt), tick(a.rt))
        assert len(await inbox(a, "city-eeb", type="issue.assigned")) == 5
        assert len(await inbox(b, "city-eeb", type="issue.overdue")) == 5
        assert len(await inbox(a, "city-eeb", type="deadline.near")) == 5  # the 7-day one, due before the start
        assert len(await inbox(b, "city-eeb", type="digest.weekly")) == 1


async def test_half_year_account_goes_to_leaders_on_1_july_with_per_org_counts(tmp_path: Path) -> None:
    clock = SettableClock(sh("2020-06-01T10:00"))
    async with running("notify", tmp_path, clock=clock) as s:
        await tick(s.rt)
        at = clock.now()
        admin = s.auth(org="inspection-office", roles="admin")
        await s.client.put("/v1/address-book/市长", headers=admin, json={"org_id": "city-government"})
        await s.deliver(org("city-eeb", "呼和浩特市生态环境局"))
        done, back = new_id(), new_id()
        await s.deliver(registered(done, deadline="2020-12-31", at=at))
        await s.deliver(registered(back, deadline="2020-06-15", at=at))
        common = {"responsible_org_id": "city-eeb", "supervising_org_id": "inspection-office"}
        decisions = [
            VERIFICATION.make("closure.rejected", back, {
                "closure_id": new_id(), "issue_id": back, "opinion": "不达标", "reason_code": "target_not_met",
                **common}, time=at),
            VERIFICATION.make("closure.accepted", done, {"closure_id": new_id(), "issue_id": done, **common}, time=at),
            VERIFICATION.make("issue.reopened", done, {
                "reopening_id": new_id(), "issue_id": done, "responsible_org_id": "city-eeb", "reason": "反弹"},
                time=at),
            VERIFICATION.make("closure.accepted", done, {"closure_id": new_id(), "issue_id": done, **common}, time=at),
        ]
        for decision in decisions:  # each followed by the status move the issues service announces
            await s.deliver(decision)
            await s.deliver(moved(decision))
        await s.deliver(SCORING.make("ranking.published", "r-2020-06", _ranking("r-2020-06", penalized=["city-eeb"]),
                                      time=at))
        clock.set(sh("2020-07-01T08:00"))
        assert (await tick(s.rt))["half_year"] == []
        clock.set(sh("2020-07-01T09:00"))
        ran = (await tick(s.rt))["half_year"]
        assert [r["period"] for r in ran] == ["2020-H1"]
        row = next(r for r in ran[0]["table"] if r["org_id"] == "city-eeb")
        assert {k: row[k] for k in ("assigned", "completed", "overdue", "signed_off", "rejected", "reopened",
                                    "penalized")} == {"assigned": 2, "completed": 1, "overdue": 1, "signed_off": 2,
                                                      "rejected": 1, "reopened": 1, "penalized": 1}
        assert (await tick(s.rt))["half_year"] == []
        mayor = await inbox(s, "city-government", type="digest.half_year")
        vice = await inbox(s, None, leader=LEADER, type="digest.half_year")
        assert [i["subject"] for i in mayor + vice] == ["2020-H1", "2020-H1"]
        body = vice[0]["body"]
        assert "2020年上半年" in body and "呼和浩特市生态环境局:牵头任务 2 项,已完成 1 项(完成率 50.0%)" in body
        assert "被退回 1 次" in body and "问题反弹 1 次" in body and "经济处罚 1 次" in body
        assert "您包联的整改任务 2 项" in body
        assert await inbox(s, "city-eeb", type="digest.half_year") == []


def _ranking(ranking_id: str, *, penalized: list[str]) -> dict[str, object]:
    return {"ranking_id": ranking_id, "period": "2020-06", "kind": "departments", "scheme_id": "default",
            "scheme_version": 1, "published_at": "2020-06-30T02:00:00Z",
            "rows": [{"org_id": "city-eeb", "score": 71.5, "rank": 1, "components": {"completion": 50.0},
                      "overdue": 1, "named": True, "penalty": {"description": "扣减生态补偿金10万元"}}],
            "bottom_named": ["city-eeb"], "penalized": penalized}


async def test_admin_runs_the_digests_on_demand(tmp_path: Path) -> None:
    clock = SettableClock(sh("2020-06-10T15:00"))
    async with running("notify", tmp_path, clock=clock) as s:
        await tick(s.rt)  # the schedules start now (the background task may not have ticked yet)
        await _issues_for_two_orgs(s)
        admin = s.auth(org="inspection-office", roles="admin")
        r = await s.client.post("/v1/digests/weekly", headers=s.auth(org="city-eeb", roles="responsible"))
        assert r.status_code == 403
        r = await s.client.post("/v1/digests/weekly", headers=admin, json={"org_id": "city-eeb"})
        assert r.status_code == 201, r.text
        assert r.json()["recipients"] == 1 and r.json()["origin"] == "manual"
        r = await s.client.post("/v1/digests/weekly", headers=admin)
        assert r.json()["recipients"] == 2
        assert len(await inbox(s, "city-eeb", type="digest.weekly")) == 2  # each run on demand is its own notice
        r = await s.client.post("/v1/digests/half-year", headers=admin, json={"period": "2020-H3"})
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "period"
        r = await s.client.post("/v1/digests/half-year", headers=admin)
        assert r.status_code == 201 and r.json()["period"] == "2019-H2"
        assert [i["subject"] for i in await inbox(s, None, leader=LEADER)] == ["2019-H2"]
        r = await s.client.get("/v1/digests", headers=admin, params={"kind": "weekly"})
        assert [d["origin"] for d in r.json()["items"]] == ["manual", "manual"]


async def test_a_deadline_near_reminder_on_a_holiday_moves_to_the_working_day_before(tmp_path: Path) -> None:
    # deadline 2020-10-10 (a make-up Saturday): 7 days before is 10-03, inside the National Day holiday (10-01..08)
    # → the working day before, Wed 30 September; 1 day before is 10-09, a Friday worked → unmoved
    clock = SettableClock(sh("2020-09-20T10:00"))
    async with running("notify", tmp_path, clock=clock) as s:
        issue = new_id()
        await s.deliver(registered(issue, deadline="2020-10-10"))
        for when, expected in (("2020-09-30T08:59", []), ("2020-09-30T09:00", ["还剩7天"]),
                               ("2020-10-03T09:00", ["还剩7天"]), ("2020-10-09T09:00", ["还剩1天", "还剩7天"])):
            clock.set(sh(when))
            await tick(s.rt)
            near = await inbox(s, "city-eeb", type="deadline.near")
            assert sorted(i["title"].rsplit("(", 1)[1].rstrip(")") for i in near) == sorted(expected), when


async def test_a_reminder_in_a_year_without_a_calendar_keeps_its_day_and_is_reported(tmp_path: Path) -> None:
    # 2027 is not in the table: the 7-day reminder of 2027-01-11 is not moved by a guess but sent on 01-04,
    # and the tick names the missing year
    clock = SettableClock(sh("2026-12-20T10:00"))
    async with running("notify", tmp_path, clock=clock) as s:
        issue = new_id()
        await s.deliver(registered(issue, deadline="2027-01-11"))
        clock.set(sh("2027-01-04T08:59"))
        assert (await tick(s.rt))["reminders"] == 0
        clock.set(sh("2027-01-04T09:00"))
        result = await tick(s.rt)
        assert result["reminders"] == 1 and result["calendar_missing"] == [2027]
