"""Appeals against a published ranking (申诉 / 复核), with dates worked by hand across the 2020 National Day holiday.

The 2020 arrangement (chinese-calendar, seeded): 10-01..10-08 off; Sunday 09-27 and Saturday 10-10 worked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runtime.clock import SettableClock
from tests.scoring.facts import bj
from tests.scoring.test_api import closure, deliver_all, issue
from tests.support import EventFactory, Running, running


def september() -> list[Any]:
    """Three regions in September 2020: xincheng rejected once, saihan twice, wuchuan with no issue.

    xincheng (urban_core): 0.30 × 100 + 0.20 × 0 + 0.20 × 90 + 0.30 × 100 = 78
    saihan (ecological):   0.25 × 100 + 0.20 × 0 + 0.15 × 80 + 0.40 × 100 = 77
    wuchuan (agricultural): 100
    """
    iss, ver = EventFactory("issues"), EventFactory("verification")
    orgs = [iss.make("org.registered", o, {"org_id": o, "name": n, "kind": k, "zone_type": z}, time=bj("2020-01-02 09:00"))
            for o, n, k, z in (("xincheng", "新城区", "region", "urban_core"), ("saihan", "赛罕区", "region", "ecological"),
                               ("wuchuan", "武川县", "region", "agricultural"),
                               ("city-eeb", "市生态环境局", "department", "department"))]
    return [*orgs,
            issue(iss, "x1", "xincheng", "2020-12-31", "2020-05-01 09:00"),
            issue(iss, "s1", "saihan", "2020-12-31", "2020-05-01 09:00"),
            closure(ver, "closure.requested", "x1", "xincheng", "2020-09-08 09:00"),
            closure(ver, "closure.rejected", "x1", "xincheng", "2020-09-10 09:00"),
            closure(ver, "closure.requested", "s1", "saihan", "2020-09-08 09:00"),
            closure(ver, "closure.rejected", "s1", "saihan", "2020-09-10 09:00"),
            closure(ver, "closure.requested", "s1", "saihan", "2020-09-14 09:00"),
            closure(ver, "closure.rejected", "s1", "saihan", "2020-09-15 09:00")]


async def published(s: Running, clock: SettableClock, at: str = "2020-09-29 10:00") -> dict[str, Any]:
    await deliver_all(s, september())
    clock.set(bj(at))
    r = await s.client.post("/v1/rankings", headers=s.auth(roles="admin"), json={"period": "2020-09", "kind": "region"})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def unit(s: Running, org: str) -> dict[str, str]:
    return s.auth(sub=f"{org}-clerk", org=org, roles="responsible")


QUALITY = {"component": "quality", "reason": "9月15日的退回系监管单位误判,已撤销", "evidence_ids": ["ev-77"]}


async def test_the_appeal_window_is_five_working_days_across_national_day(tmp_path: Path) -> None:
    # Published Tuesday 2020-09-29. Working days after it (that day not counted): 09-30 Wed (1); 10-01..10-08 are
    # the holiday; 10-09 Fri (2); 10-10 Sat, a make-up working day (3); 10-11 Sun off; 10-12 Mon (4); 10-13 Tue (5).
    # The last day to appeal is 2020-10-13, the whole of it in Beijing time.
    clock = SettableClock(bj("2020-09-01 09:00"))
    async with running("scoring", tmp_path, clock=clock) as s:
        ranking = await published(s, clock)
        assert [(r["org_id"], r["score"], r["rank"]) for r in ranking["rows"]] == [
            ("wuchuan", 100.0, 1), ("xincheng", 78.0, 2), ("saihan", 77.0, 3)]
        clock.set(bj("2020-10-13 23:59"))
        r = await s.client.post(f"/v1/rankings/{ranking['id']}/appeals", headers=unit(s, "saihan"), json=QUALITY)
        assert r.status_code == 201, r.text
        a = r.json()
        # decided within 10 working days after 10-13: 10-14, 15, 16, 19, 20, 21, 22, 23, 26, 27 -> 2020-10-27
        assert (a["appeal_due"], a["decision_due"], a["filed_on"]) == ("2020-10-13", "2020-10-27", "2020-10-13")
        assert (a["status"], a["disputed_value"], a["org_name"], a["evidence_ids"]) == ("pending", 80.0, "赛罕区",
                                                                                         ["ev-77"])
        clock.set(bj("2020-10-14 00:01"))
        r = await s.client.post(f"/v1/rankings/{ranking['id']}/appeals", headers=unit(s, "xincheng"), json=QUALITY)
        assert r.status_code == 409, r.text
        err = r.json()["error"]
        assert err["details"][0]["field"] == "ranking_id" and "2020-10-13" in err["message"]
        events = await s.events()
        assert [e["type"] for e in events].count("appeal.filed") == 1


async def test_an_appeal_inside_the_holiday_is_decided_ten_working_days_after_its_filing_day(tmp_path: Path) -> None:
    clock = SettableClock(bj("2020-09-01 09:00"))
    async with running("scoring", tmp_path, clock=clock) as s:
        ranking = await published(s, clock)
        # filed on 10-03, a holiday: decision due 10 working days after 10-03 = 10-09 (1), 10-10 Sat (2), 10-12 (3),
        # 13 (4), 14 (5), 15 (6), 16 (7), 19 (8), 20 (9), 21 (10) -> 2020-10-21
        clock.set(bj("2020-10-03 11:00"))
        r = await s.client.post(f"/v1/rankings/{ranking['id']}/appeals", headers=unit(s, "xincheng"), json=QUALITY)
        assert r.status_code == 201, r.text
        assert (r.json()["filed_on"], r.json()["decision_due"]) == ("2020-10-03", "2020-10-21")


async def test_refusals_name_the_field_twice_not_ranked_superseded_and_wrong_roles(tmp_path: Path) -> None:
    clock = SettableClock(bj("2020-09-01 09:00"))
    async with running("scoring", tmp_path, clock=clock) as s:
        ranking = await published(s, clock)
        clock.set(bj("2020-09-30 09:00"))
        path = f"/v1/rankings/{ranking['id']}/appeals"
        assert (await s.client.post(path, headers=unit(s, "saihan"), json=QUALITY)).status_code == 201
        r = await s.client.post(path, headers=unit(s, "saihan"), json={**QUALITY, "reason": "再次申诉"})
        assert r.status_code == 409 and r.json()["error"]["details"][0]["field"] == "component", r.text
        # another component of the same ranking is another appeal
        r = await s.client.post(path, headers=unit(s, "saihan"), json={**QUALITY, "component": "completion"})
        assert r.status_code == 201, r.text
        # a department is not in the regions' ranking
        r = await s.client.post(path, headers=unit(s, "city-eeb"), json=QUALITY)
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "ranking_id", r.text
        for roles in ("supervisor", "leader", "admin", "auditor"):
            r = await s.client.post(path, headers=s.auth(org="xincheng", roles=roles), json=QUALITY)
            assert r.status_code == 403, (roles, r.text)
        for body, field in (({**QUALITY, "component": "speed"}, "component"), ({**QUALITY, "reason": ""}, "reason"),
                            ({**QUALITY, "reason": "理" * 2001}, "reason"),
                            ({**QUALITY, "evidence_ids": [f"e{i}" for i in range(21)]}, "evidence_ids"),
                            ({**QUALITY, "evidence_ids": ["a/b"]}, "evidence_ids"), ({**QUALITY, "x": 1}, "x")):
            r = await s.client.post(path, headers=unit(s, "xincheng"), json=body)
            assert r.status_code == 422 and field in str(r.json()["error"]["details"]), (field, r.text)
        r = await s.client.post("/v1/rankings/nope/appeals", headers=unit(s, "xincheng"), json=QUALITY)
        assert r.status_code == 404
        # the admin publishes the ranking again (a correction of its own): the first one can no longer be appealed
        r = await s.client.post("/v1/rankings", headers=s.auth(roles="admin"), json={"period": "2020-09", "kind": "region"})
        assert r.status_code == 201
        newer = r.json()["id"]
        r = await s.client.post(path, headers=unit(s, "xincheng"), json=QUALITY)
        assert r.status_code == 409, r.text
        detail = r.json()["error"]["details"][0]
        assert detail["field"] == "ranking_id" and detail["superseded_by"] == newer
        r = await s.client.post(f"/v1/rankings/{newer}/appeals", headers=unit(s, "xincheng"), json=QUALITY)
        assert r.status_code == 201, r.text


async def test_a_window_reaching_a_year_the_calendar_lacks_is_refused_not_guessed(tmp_path: Path) -> None:
    # published Monday 2026-12-28: 5 working days after it run into 2027, which the seeded calendar does not have
    clock = SettableClock(bj("2026-12-01 09:00"))
    async with running("scoring", tmp_path, clock=clock) as s:
        await deliver_all(s, september()[:4])
        clock.set(bj("2026-12-28 10:00"))
        r = await s.client.post("/v1/rankings", headers=s.auth(roles="admin"), json={"period": "2026-12", "kind": "region"})
        assert r.status_code == 201
        r = await s.client.post(f"/v1/rankings/{r.json()['id']}/appeals", headers=unit(s, "wuchuan"), json=QUALITY)
        assert r.status_code == 409, r.text
        err = r.json()["error"]
        assert err["code"] == "calendar_year_missing" and err["details"][0]["field"] == "calendar"
        assert "2027" in err["message"]
        assert [e["type"] for e in await s.events()].count("appeal.filed") == 0


async def test_an_upheld_appeal_publishes_a_ranking_that_supersedes_the_one_in_force(tmp_path: Path) -> None:
    clock = SettableClock(bj("2020-09-01 09:00"))
    async with running("scoring", tmp_path, clock=clock) as s:
        ranking = await published(s, clock)
        assert ranking["penalized"] == ["saihan"]
        clock.set(bj("2020-10-09 10:00"))
        r = await s.client.post(f"/v1/rankings/{ranking['id']}/appeals", headers=unit(s, "saihan"), json=QUALITY)
        appeal = r.json()
        decision = f"/v1/appeals/{appeal['id']}/decision"
        upheld = {"outcome": "upheld", "reasons": "经核实,9月15日的退回已撤销", "correction": {"quality": 90}}
        for roles in ("responsible", "leader", "auditor", "supervisor"):
            r = await s.client.post(decision, headers=s.auth(org="saihan", roles=roles), json=upheld)
            assert r.status_code == 403, (roles, r.text)
        admin = s.auth(roles="admin")
        for body, field in (({**upheld, "correction": None}, "correction"),
                            ({**upheld, "correction": {"completion": 50}}, "correction.quality"),
                            ({**upheld, "correction": {"quality": 101}}, "correction"),
                            ({**upheld, "correction": {"quality": 80}}, "correction"),
                            ({**upheld, "correction": {"speed": 80}}, "correction"),
                            ({"outcome": "refused", "reasons": "不成立", "correction": {"quality": 90}}, "correction"),
                            ({**upheld, "reasons": ""}, "reasons"), ({**upheld, "outcome": "maybe"}, "outcome")):
            r = await s.client.post(decision, headers=admin, json=body)
            assert r.status_code == 422 and field in str(r.json()["error"]["details"]), (body, r.text)
        # the published ranking stands until the decision
        assert (await s.client.get(f"/v1/rankings/{ranking['id']}", headers=admin)).json()["superseded_by"] is None
        clock.set(bj("2020-10-16 15:00"))
        r = await s.client.post(decision, headers=admin, json=upheld)
        assert r.status_code == 200, r.text
        decided = r.json()
        assert (decided["status"], decided["previous"], decided["correction"], decided["late"]) == (
            "upheld", {"quality": 80.0}, {"quality": 90.0}, False)
        new = (await s.client.get(f"/v1/rankings/{decided['corrected_ranking_id']}", headers=admin)).json()
        # saihan: 77 + 0.15 × (90 − 80) = 78.5, now above xincheng's 78, which takes the penalty
        assert [(r["org_id"], r["score"], r["rank"]) for r in new["rows"]] == [
            ("wuchuan", 100.0, 1), ("saihan", 78.5, 2), ("xincheng", 78.0, 3)]
        assert (new["supersedes"], new["generation"], new["correction"], new["penalized"]) == (
            ranking["id"], 2, True, ["xincheng"])
        assert new["on_appeal"] == {"appeal_id": appeal["id"], "org_id": "saihan", "component": "quality",
                                    "outcome": "upheld", "previous": {"quality": 80.0}, "corrected": {"quality": 90.0},
                                    "reasons": upheld["reasons"]}
        quality = next(r for r in new["rows"] if r["org_id"] == "saihan")["components"]["quality"]
        assert quality["score"] == 90.0 and "复核更正 80 → 90" in quality["formula"]
        old = (await s.client.get(f"/v1/rankings/{ranking['id']}", headers=admin)).json()
        assert old["superseded_by"] == new["id"] and old["rows"] == ranking["rows"]
        r = await s.client.post(decision, headers=admin, json={"outcome": "refused", "reasons": "再议"})
        assert r.status_code == 409 and r.json()["error"]["details"][0]["field"] == "outcome", r.text
        events = await s.events()
        kinds = [(e["type"], e["subject"]) for e in events if e["type"] != "ranking.published" or
                 e["data"]["on_appeal"]]
        assert kinds[-3:] == [("appeal.filed", f"appeal/{appeal['id']}"),
                              ("ranking.published", "2020-09/region/default"),
                              ("appeal.decided", f"appeal/{appeal['id']}")]
        assert events[-1]["data"]["corrected_ranking_id"] == new["id"]


async def test_a_decision_after_the_window_is_taken_and_flagged_late_and_a_refusal_keeps_the_ranking(
        tmp_path: Path) -> None:
    clock = SettableClock(bj("2020-09-01 09:00"))
    async with running("scoring", tmp_path, clock=clock) as s:
        ranking = await published(s, clock)
        clock.set(bj("2020-10-09 10:00"))  # decision due 10 working days after 10-09: 2020-10-22 (worked above)
        first = (await s.client.post(f"/v1/rankings/{ranking['id']}/appeals", headers=unit(s, "saihan"),
                                     json=QUALITY)).json()
        second = (await s.client.post(f"/v1/rankings/{ranking['id']}/appeals", headers=unit(s, "xincheng"),
                                      json=QUALITY)).json()
        assert first["decision_due"] == second["decision_due"] == "2020-10-22"
        admin = s.auth(roles="admin")
        clock.set(bj("2020-10-22 23:00"))
        r = await s.client.post(f"/v1/appeals/{first['id']}/decision", headers=admin,
                                json={"outcome": "refused", "reasons": "两次退回均有核查记录,申诉不成立"})
        assert r.status_code == 200 and (r.json()["status"], r.json()["late"]) == ("refused", False), r.text
        assert r.json()["corrected_ranking_id"] is None
        clock.set(bj("2020-10-23 09:00"))
        r = await s.client.post(f"/v1/appeals/{second['id']}/decision", headers=admin,
                                json={"outcome": "partly_upheld", "reasons": "部分成立", "correction": {"quality": 95}})
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["late"], r.json()["decided_on"]) == ("partly_upheld", True, "2020-10-23")
        rankings = (await s.client.get("/v1/rankings", headers=admin, params={"current": True})).json()["items"]
        assert [x["id"] for x in rankings] == [r.json()["corrected_ranking_id"]]
        # xincheng: 78 + 0.20 × (95 − 90) = 79
        assert [(x["org_id"], x["score"]) for x in rankings[0]["rows"]][:2] == [("wuchuan", 100.0), ("xincheng", 79.0)]


async def test_appeals_are_listed_for_those_who_see_all_and_a_unit_sees_its_own(tmp_path: Path) -> None:
    clock = SettableClock(bj("2020-09-01 09:00"))
    async with running("scoring", tmp_path, clock=clock) as s:
        ranking = await published(s, clock)
        clock.set(bj("2020-09-30 09:00"))
        mine = (await s.client.post(f"/v1/rankings/{ranking['id']}/appeals", headers=unit(s, "saihan"),
                                    json=QUALITY)).json()
        clock.set(bj("2020-09-30 10:00"))
        theirs = (await s.client.post(f"/v1/rankings/{ranking['id']}/appeals", headers=unit(s, "xincheng"),
                                      json=QUALITY)).json()
        for roles in ("admin", "leader", "auditor"):
            r = await s.client.get("/v1/appeals", headers=s.auth(roles=roles))
            assert [a["id"] for a in r.json()["items"]] == [theirs["id"], mine["id"]], roles
            assert (await s.client.get(f"/v1/appeals/{mine['id']}", headers=s.auth(roles=roles))).status_code == 200
        r = await s.client.get("/v1/appeals", headers=unit(s, "saihan"))
        assert [a["id"] for a in r.json()["items"]] == [mine["id"]]
        r = await s.client.get("/v1/appeals", headers=unit(s, "saihan"), params={"org_id": "xincheng"})
        assert r.json()["items"] == []
        assert (await s.client.get(f"/v1/appeals/{theirs['id']}", headers=unit(s, "saihan"))).status_code == 404
        assert (await s.client.get(f"/v1/appeals/{mine['id']}", headers=unit(s, "saihan"))).status_code == 200
        assert (await s.client.get("/v1/appeals")).status_code == 401
        admin = s.auth(roles="admin")
        r = await s.client.get("/v1/appeals", headers=admin, params={"limit": 1})
        assert [a["id"] for a in r.json()["items"]] == [theirs["id"]] and r.json()["next_cursor"]
        r = await s.client.get("/v1/appeals", headers=admin, params={"limit": 1, "cursor": r.json()["next_cursor"]})
        assert [a["id"] for a in r.json()["items"]] == [mine["id"]]
        await s.client.post(f"/v1/appeals/{mine['id']}/decision", headers=admin,
                            json={"outcome": "refused", "reasons": "不成立"})
        for params, expected in (({"status": "pending"}, [theirs["id"]]), ({"status": "refused"}, [mine["id"]]),
                                 ({"org_id": "saihan"}, [mine["id"]]), ({"component": "completion"}, []),
                                 ({"ranking_id": ranking["id"], "period": "2020-09", "kind": "region"},
                                  [theirs["id"], mine["id"]])):
            r = await s.client.get("/v1/appeals", headers=admin, params=params)
            assert [a["id"] for a in r.json()["items"]] == expected, params
        for bad in ({"status": "won"}, {"limit": 501}, {"component": "x"}, {"org_id": "a" * 65}):
            assert (await s.client.get("/v1/appeals", headers=admin, params=bad)).status_code == 422, bad


async def test_the_scheme_sets_the_windows_and_bounds_them(tmp_path: Path) -> None:
    clock = SettableClock(bj("2020-09-01 09:00"))
    async with running("scoring", tmp_path, clock=clock) as s:
        admin = s.auth(roles="admin")
        base = (await s.client.get("/v1/schemes/default", headers=admin)).json()
        assert (base["appeal_days"], base["decision_days"]) == (5, 10)
        body = {"weights": base["weights"], "appeal_days": 3, "decision_days": 7}
        for bad, field in (({**body, "appeal_days": 0}, "appeal_days"), ({**body, "decision_days": 61}, "decision_days"),
                           ({**body, "appeal_days": "5"}, "appeal_days")):
            r = await s.client.put("/v1/schemes/default", headers=admin, json=bad)
            assert r.status_code == 422 and field in str(r.json()["error"]["details"]), (bad, r.text)
        r = await s.client.put("/v1/schemes/default", headers=admin, json=body)
        assert r.status_code == 200 and (r.json()["appeal_days"], r.json()["decision_days"]) == (3, 7), r.text
        ranking = await published(s, clock)
        # 3 working days after 2020-09-29: 09-30 (1), 10-09 (2), 10-10 Sat worked (3)
        clock.set(bj("2020-10-11 09:00"))
        r = await s.client.post(f"/v1/rankings/{ranking['id']}/appeals", headers=unit(s, "saihan"), json=QUALITY)
        assert r.status_code == 409 and "2020-10-10" in r.json()["error"]["message"], r.text
        events = await s.events()
        versioned = [e["data"] for e in events if e["type"] == "score.scheme_versioned"]
        assert (versioned[-1]["appeal_days"], versioned[-1]["decision_days"]) == (3, 7)


async def test_two_upheld_appeals_on_one_ranking_each_correct_the_ranking_in_force(tmp_path: Path) -> None:
    clock = SettableClock(bj("2020-09-01 09:00"))
    async with running("scoring", tmp_path, clock=clock) as s:
        ranking = await published(s, clock)
        clock.set(bj("2020-09-30 09:00"))
        path = f"/v1/rankings/{ranking['id']}/appeals"
        first = (await s.client.post(path, headers=unit(s, "saihan"), json=QUALITY)).json()
        second = (await s.client.post(path, headers=unit(s, "xincheng"), json=QUALITY)).json()
        admin = s.auth(roles="admin")
        clock.set(bj("2020-10-09 09:00"))
        one = (await s.client.post(f"/v1/appeals/{first['id']}/decision", headers=admin, json={
            "outcome": "upheld", "reasons": "属实", "correction": {"quality": 100}})).json()
        # the appealed ranking is superseded now; the second correction applies to the one in force, keeping the first
        two = (await s.client.post(f"/v1/appeals/{second['id']}/decision", headers=admin, json={
            "outcome": "upheld", "reasons": "属实", "correction": {"quality": 100}})).json()
        r2 = (await s.client.get(f"/v1/rankings/{one['corrected_ranking_id']}", headers=admin)).json()
        r3 = (await s.client.get(f"/v1/rankings/{two['corrected_ranking_id']}", headers=admin)).json()
        assert (r2["supersedes"], r3["supersedes"], r3["generation"]) == (ranking["id"], r2["id"], 3)
        # saihan 77 + 0.15 × 20 = 80; xincheng 78 + 0.20 × 10 = 80; a tie goes by overdue (0 each), then by org id
        assert [(r["org_id"], r["score"], r["rank"]) for r in r3["rows"]] == [
            ("wuchuan", 100.0, 1), ("saihan", 80.0, 2), ("xincheng", 80.0, 3)]
        assert two["previous"] == {"quality": 90.0}
