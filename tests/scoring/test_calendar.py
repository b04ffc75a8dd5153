"""The working-day calendar owned by scoring: seeded years read back, a new year set by the admin and announced,
bad tables and unknown years refused with the field named, and notify timing reminders by the announced table."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from services.notify.digests import tick
from services.scoring.store import CalendarYearRow
from tests.notify.helpers import inbox, registered, sh
from tests.support import fixed_clock, running

NOW = "2026-12-01T02:00:00+00:00"

# 2027 as an admin would type it in when the State Council publishes it (an example arrangement for the test)
Y2027 = {"holidays": ["2027-01-01", "2027-01-02", "2027-01-03", "2027-01-04", "2027-01-05"],
         "workdays": ["2027-01-09"], "source": "国办发明电〔2026〕示例号"}


async def test_seeded_years_are_served_and_the_2020_arrangement_is_the_real_one(tmp_path: Path) -> None:
    async with running("scoring", tmp_path, clock=fixed_clock(NOW)) as s:
        r = await s.client.get("/v1/calendar/2020", headers=s.auth(roles="leader"))
        assert r.status_code == 200, r.text
        body = r.json()
        assert "2020-10-10" in body["workdays"] and "2020-09-27" in body["workdays"]
        assert all(f"2020-10-0{d}" in body["holidays"] for d in range(1, 9))
        assert body["working_days"] == 249 and body["source"] == "chinese-calendar 1.11.0"
        r = await s.client.get("/v1/calendar/2026", headers=s.auth(roles="leader"))
        assert "2026-02-14" in r.json()["workdays"]
        r = await s.client.get("/v1/calendar/2027", headers=s.auth(roles="leader"))
        assert r.status_code == 404 and "2027" in r.json()["error"]["message"]
        async with s.rt.read() as session:
            assert (await session.execute(select(func.count()).select_from(CalendarYearRow))).scalar_one() == 23


async def test_working_days_after_counts_across_national_day_and_refuses_an_unknown_year(tmp_path: Path) -> None:
    async with running("scoring", tmp_path, clock=fixed_clock(NOW)) as s:
        r = await s.client.get("/v1/calendar/working-days/after", params={"from": "2020-09-29", "days": 5},
                               headers=s.auth(roles="leader"))
        assert r.status_code == 200 and r.json()["due"] == "2020-10-13"
        r = await s.client.get("/v1/calendar/working-days/after", params={"from": "2026-12-28", "days": 5},
                               headers=s.auth(roles="leader"))
        assert r.status_code == 422, r.text
        err = r.json()["error"]
        assert "2027" in err["message"] + str(err["details"]) and "from" in str(err["details"])


async def test_admin_sets_a_new_year_which_is_announced_and_bad_tables_change_nothing(tmp_path: Path) -> None:
    async with running("scoring", tmp_path, clock=fixed_clock(NOW)) as s:
        admin = s.auth(roles="admin")
        r = await s.client.put("/v1/calendar/2027", headers=s.auth(roles="leader"), json=Y2027)
        assert r.status_code == 403
        bad = [({**Y2027, "workdays": ["2027-01-08"]}, "workdays"),  # a Friday cannot be a make-up day
               ({**Y2027, "holidays": ["2028-01-01"]}, "holidays.0"),
               ({**Y2027, "workdays": ["2027-01-02"]}, "holidays"),  # both a holiday and worked
               ({**Y2027, "source": ""}, "source")]
        for body, field in bad:
            r = await s.client.put("/v1/calendar/2027", headers=admin, json=body)
            assert r.status_code == 422, (body, r.text)
            assert field in str(r.json()["error"]["details"]), (field, r.json())
        assert (await s.client.get("/v1/calendar/2027", headers=admin)).status_code == 404
        assert await s.events() == []
        r = await s.client.put("/v1/calendar/2027", headers=admin, json=Y2027)
        assert r.status_code == 200, r.text
        assert r.json()["workdays"] == ["2027-01-09"]
        events = await s.events()
        assert [(e["type"], e["subject"], e["data"]["year"]) for e in events] == [
            ("calendar.year_published", "calendar/2027", 2027)]
        r = await s.client.get("/v1/calendar/working-days/after", params={"from": "2026-12-31", "days": 1},
                               headers=admin)
        assert r.json()["due"] == "2027-01-06"

    # notify takes the announced year: the 7-day reminder of 2027-01-11 falls on 01-04, a holiday in this table,
    # and moves to 2026-12-31 (the working day before); without the table it would have stayed on 01-04
    clock = fixed_clock("2026-12-20T02:00:00+00:00")
    async with running("notify", tmp_path / "n", clock=clock) as n:
        assert await n.deliver(events[0]) == "handled"
        issue = "11111111-1111-4111-8111-111111111111"
        await n.deliver(registered(issue, deadline="2027-01-11"))
        clock.set(sh("2026-12-31T09:00"))
        result = await tick(n.rt)
        assert result["reminders"] == 1 and result["calendar_missing"] == []
        near = await inbox(n, "city-eeb", type="deadline.near")
        assert [i["title"] for i in near] == [f"整改时限临近:HH-{issue}(还剩7天)"]
