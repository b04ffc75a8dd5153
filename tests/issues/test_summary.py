"""The cockpit's figures counted by the service: GET /v1/issues/summary agrees with the list it summarises."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from contracts.lifecycle import ESCALATE_AFTER_DAYS
from tests.issues.helpers import ROUND, issue_by_code, ledger_rows, load_reference
from tests.issues.test_lifecycle import deliver
from tests.issues.test_listing import all_pages
from tests.support import EventFactory, Running, fixed_clock, running

# 2021-01-20 12:00 in Shanghai: the reference tasks due 2020-12-31 are 20 days late (escalated after 15),
# the one registered late with a deadline of 2021-01-10 only 10 days late.
TODAY = date(2021, 1, 20)
CLOCK = "2021-01-20T04:00:00+00:00"


async def summary(s: Running, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = await s.client.get("/v1/issues/summary", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_the_summary_counts_what_the_ledger_says(tmp_path: Path) -> None:
    rows = ledger_rows()
    deadlines = {r["code"]: date.fromisoformat(r["deadline"]) for r in rows}
    async with running("issues", tmp_path, clock=fixed_clock(CLOCK)) as s:
        await load_reference(s)
        # One task due 2020-12-31 signed off and filed: closed, due, not overdue, counted in the on-time rate.
        done = await issue_by_code(s, "HH-2020-004")
        ver = EventFactory("verification")
        for type_ in ("closure.requested", "closure.accepted", "closure.filed"):
            extra = {"summary": "已完成", "evidence_ids": ["e1"]} if type_ == "closure.requested" else {}
            assert await deliver(s, ver, type_, done["id"], subject="c1", closure_id="c1", **extra) == "handled"
        admin = s.auth(roles="admin")
        # A late-registered task due 2021-01-10: ten days overdue on TODAY, not yet escalated.
        r = await s.client.post("/v1/issues", headers=admin, json={
            "code": "HH-2021-LATE", "round_id": ROUND, "category": "water", "title": "补充交办:小黑河沿岸垃圾清理",
            "region_id": "saihan", "responsible_org_id": "saihan", "supervising_org_id": "city-eeb",
            "leader": "赛罕区区长", "deadline": "2021-01-10"})
        assert r.status_code == 201, r.text
        deadlines["HH-2021-LATE"] = date(2021, 1, 10)
        got = await summary(s, admin)

        due = {c for c, d in deadlines.items() if d < TODAY}
        overdue = due - {"HH-2020-004"}
        escalated = {c for c in overdue if (TODAY - deadlines[c]).days > ESCALATE_AFTER_DAYS}
        assert got["today"] == TODAY.isoformat() and got["escalate_after_days"] == ESCALATE_AFTER_DAYS
        assert (got["total"], got["closed"], got["due"], got["due_closed"]) == (35, 1, len(due), 1)
        assert (got["overdue"], got["escalated"]) == (len(overdue), len(escalated))
        assert overdue and escalated and escalated != overdue  # the reference dates give both kinds at this date
        assert got["on_time_rate"] == round(100 / len(due), 1)
        assert got["by_status"] == {"registered": 34, "filed": 1}
        assert got["by_category"] == dict(Counter([r["category"] for r in rows] + ["water"]))
        regions = Counter([r["region"] for r in rows if r["region"]] + ["saihan"])
        assert {g["region_id"]: g["total"] for g in got["by_region"]} == dict(regions)
        totals = [g["total"] for g in got["by_region"]]
        assert totals == sorted(totals, reverse=True)

        # The two lists: the longest overdue first, each the list's own answer for that filter.
        ten = sorted(deadlines[c] for c in overdue)[:10]
        assert [date.fromisoformat(i["deadline"]) for i in got["most_overdue"]] == ten
        assert {i["code"] for i in got["most_overdue"]} <= overdue
        assert len(got["most_overdue"]) == min(10, len(overdue))
        assert {i["code"] for i in got["most_escalated"]} <= escalated
        assert len(got["most_escalated"]) == min(10, len(escalated))
        assert all(i["overdue_days"] > ESCALATE_AFTER_DAYS for i in got["most_escalated"])
        # the plan's measurable targets, as the ledger gives them (the cockpit draws each against its goal)
        expected = [(r["code"], r["target_indicator"], r["target_op"], float(r["target_value"]))
                    for r in sorted(rows, key=lambda r: r["code"]) if r["target_indicator"]]
        assert [(t["code"], t["indicator"], t["op"], t["value"]) for t in got["targets"]] == expected
        assert ("HH-2020-004", "pm25_annual_mean", "<=", 35.0) in expected
        listed = {i["code"] for i in await all_pages(s, admin, escalated="true", limit=7)}
        assert listed == escalated
        not_listed = {i["code"] for i in await all_pages(s, admin, escalated="false", limit=50)}
        assert not_listed == set(deadlines) - escalated


async def test_the_summary_keeps_to_the_callers_scope_and_the_filters(tmp_path: Path) -> None:
    async with running("issues", tmp_path, clock=fixed_clock(CLOCK)) as s:
        await load_reference(s)
        unit = s.auth(org="saihan", roles="responsible")
        mine = await all_pages(s, unit, limit=50)
        got = await summary(s, unit)
        assert got["total"] == len(mine) > 0
        assert got["overdue"] == sum(1 for i in mine if i["overdue"])
        water = await summary(s, s.auth(roles="admin"), category="water")
        assert set(water["by_category"]) == {"water"}
        assert water["total"] == len(await all_pages(s, s.auth(roles="admin"), category="water", limit=50))
        # Before any deadline the on-time rate is not a number.
        early = await summary(s, s.auth(roles="admin"), overdue="false", q="2099")
        assert early["total"] == 0 and early["on_time_rate"] is None and early["by_region"] == []
        r = await s.client.get("/v1/issues/summary", params={"status": "closed"}, headers=unit)
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "status"
        assert (await s.client.get("/v1/issues/summary")).status_code == 401


def test_escalation_starts_the_day_after_fifteen_whole_days_overdue() -> None:
    from contracts.lifecycle import is_escalated
    deadline = date(2020, 12, 31)
    assert not is_escalated((deadline + timedelta(days=ESCALATE_AFTER_DAYS) - deadline).days)
    assert is_escalated((deadline + timedelta(days=ESCALATE_AFTER_DAYS + 1) - deadline).days)


async def test_the_public_counts_need_no_token_and_name_the_districts(tmp_path: Path) -> None:
    rows = ledger_rows()
    async with running("issues", tmp_path, clock=fixed_clock(CLOCK)) as s:
        await load_reference(s)
        done = await issue_by_code(s, "HH-2020-014")
        ver = EventFactory("verification")
        assert await deliver(s, ver, "closure.requested", done["id"], subject="c1", closure_id="c1",
                             summary="已完成", evidence_ids=["e1"]) == "handled"
        assert await deliver(s, ver, "closure.accepted", done["id"], subject="c1", closure_id="c1") == "handled"
        r = await s.client.get("/v1/public/issues/summary")
        assert r.status_code == 200, r.text
        got = r.json()
        assert (got["total"], got["closed"]) == (34, 1)
        regions = Counter(r["region"] for r in rows if r["region"])
        assert {g["region_id"]: g["total"] for g in got["by_region"]} == dict(regions)
        names = {g["region_id"]: g["region"] for g in got["by_region"]}
        assert names["saihan"] == "赛罕区"
        closed = {g["region_id"]: g["closed"] for g in got["by_region"] if g["closed"]}
        assert closed == {"togtoh": 1}  # HH-2020-014 is 托克托县's
        assert set(got) == {"total", "closed", "by_status", "by_category", "by_region"}  # nothing internal
        r = await s.client.get("/v1/public/issues/summary", params={"category": "x" * 65})
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "category"
