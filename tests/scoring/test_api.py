"""The scoring service in-process: schemes, readings, scores from consumed events, rankings."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from contracts import Envelope
from services.scoring import domain
from services.scoring.store import ReadingRow, SchemeVersion, count_rows
from tests.scoring.facts import bj
from tests.support import EventFactory, Running, fixed_clock, running, status_moves

NOW = "2020-07-05T02:00:00+00:00"


def org_events(f: EventFactory) -> list[Envelope]:
    return [
        f.make("org.registered", "xincheng", {"org_id": "xincheng", "name": "新城区", "kind": "region",
                                               "zone_type": "urban_core"}, time=bj("2020-01-02 09:00")),
        f.make("org.registered", "wuchuan", {"org_id": "wuchuan", "name": "武川县", "kind": "region",
                                              "zone_type": "agricultural"}, time=bj("2020-01-02 09:00")),
        f.make("org.registered", "city-eeb", {"org_id": "city-eeb", "name": "市生态环境局", "kind": "department",
                                               "zone_type": "department"}, time=bj("2020-01-02 09:00")),
    ]


def issue(f: EventFactory, issue_id: str, org: str, deadline: str, at: str, target: dict | None = None) -> Envelope:
    return f.make("issue.registered", issue_id, {
        "issue_id": issue_id, "code": issue_id, "round_id": "nm-2019", "category": "air", "title": "整改任务",
        "responsible_org_id": org, "supervising_org_id": "inspection-office", "deadline": deadline,
        "target": target}, time=bj(at))


def closure(f: EventFactory, type_: str, issue_id: str, org: str, at: str) -> Envelope:
    data: dict[str, Any] = {"closure_id": f"c-{issue_id}", "issue_id": issue_id, "responsible_org_id": org,
                            "supervising_org_id": "inspection-office"}
    if type_ == "closure.requested":
        data.update(summary="已整改", evidence_ids=["ev1"])
    if type_ == "closure.rejected":
        data.update(opinion="证据不足", reason_code="insufficient_evidence")
    return f.make(type_, issue_id, data, time=bj(at))


def streams() -> tuple[list[Envelope], list[Envelope]]:
    """The issues topic and the verification topic of a small June."""
    iss, ver = EventFactory("issues"), EventFactory("verification")
    issues = [
        *org_events(iss),
        issue(iss, "i1", "xincheng", "2020-06-10", "2020-05-01 09:00"),
        issue(iss, "i2", "xincheng", "2020-06-30", "2020-05-01 09:00",
              target={"indicator": "pm25", "op": "<=", "value": 35, "unit": "ug/m3"}),
        issue(iss, "i3", "wuchuan", "2020-06-20", "2020-05-01 09:00"),
        iss.make("issue.updated", "i3", {
            "issue_id": "i3", "changed": ["responsible_org_id"], "responsible_org_id": "xincheng",
            "supervising_org_id": "inspection-office", "category": "air", "title": "整改任务"},
            time=bj("2020-06-12 09:00")),
        issue(iss, "i4", "city-eeb", "2020-06-30", "2020-05-01 09:00"),
        iss.make("issue.extension_decided", "i4", {
            "issue_id": "i4", "extension_id": "x1", "approved": True, "previous_deadline": "2020-06-30",
            "deadline": "2020-08-31"}, time=bj("2020-06-20 09:00")),
    ]
    verification = [
        closure(ver, "closure.requested", "i1", "xincheng", "2020-06-01 09:00"),
        closure(ver, "closure.accepted", "i1", "xincheng", "2020-06-02 09:00"),
        closure(ver, "closure.requested", "i3", "wuchuan", "2020-06-05 09:00"),
        closure(ver, "closure.rejected", "i3", "wuchuan", "2020-06-06 09:00"),
        closure(ver, "closure.requested", "i3", "xincheng", "2020-06-15 09:00"),
        closure(ver, "closure.accepted", "i3", "xincheng", "2020-06-30 23:30"),
    ]
    # the status only ever comes from the issues service, which moves it by verification's events
    return issues + status_moves(iss, verification), verification


async def deliver_all(s: Running, envelopes: list[Envelope]) -> None:
    for e in envelopes:
        assert await s.deliver(e) == "handled", e.type


async def test_same_events_in_two_orders_give_identical_scores(tmp_path: Path) -> None:
    issues, verification = streams()
    results = []
    for name, order in (("a", issues + verification), ("b", list(reversed(verification)) + list(reversed(issues)))):
        async with running("scoring", tmp_path / name, clock=fixed_clock(NOW)) as s:
            await deliver_all(s, order)
            admin = s.auth(roles="admin")
            r = await s.client.post("/v1/readings", headers=admin, json=[
                {"org_id": "xincheng", "indicator": "pm25", "value": 42, "observed_at": "2020-06-29T04:00:00Z"}])
            assert r.status_code == 201, r.text
            got = {}
            for period in ("2020-06", "2020-H1", "2020"):
                for kind in ("region", "department"):
                    r = await s.client.get("/v1/scores", params={"period": period, "kind": kind}, headers=admin)
                    assert r.status_code == 200, r.text
                    got[(period, kind)] = r.json()["items"]
            results.append(got)
    assert results[0] == results[1]
    x = next(r for r in results[0][("2020-06", "region")] if r["org_id"] == "xincheng")
    c = x["components"]
    # due in June for xincheng: i1 (06-10, signed off 06-02), i2 (06-30, open), i3 (06-20, reassigned to xincheng
    # on 06-12, signed off 06-30 23:30 after its deadline) -> 100 × 1 ÷ 3
    assert (c["on_time_closure"]["numerator"], c["on_time_closure"]["denominator"]) == (1, 3)
    # done at the end of June: i1, i3 of i1, i2, i3 -> 100 × 2 ÷ 3
    assert (c["completion"]["numerator"], c["completion"]["denominator"]) == (2, 3)
    # i3's rejection on 06-06 was wuchuan's, not xincheng's
    assert c["quality"]["score"] == 100.0
    # pm25 42 against <= 35 -> 100 × 35 ÷ 42 = 83.333…
    assert c["environment"]["score"] == 83.33
    # urban_core: 0.30 × 33.333… + 0.20 × 66.666… + 0.20 × 100 + 0.30 × 83.333… = 10 + 13.333… + 20 + 25 = 68.33
    assert x["score"] == 68.33 and x["overdue"] == 1
    w = next(r for r in results[0][("2020-06", "region")] if r["org_id"] == "wuchuan")
    # wuchuan: no issue left (i3 moved away), one rejection: 0.30 × 100 + 0.30 × 100 + 0.20 × 90 + 0.20 × 100 = 98
    assert w["score"] == 98.0 and w["rank"] == 1
    dept = results[0][("2020-06", "department")][0]
    # i4's deadline was extended to 08-31 before 06-30: nothing due in June
    assert dept["components"]["on_time_closure"]["denominator"] == 0


async def test_default_scheme_exists_and_new_versions_keep_old_ones(tmp_path: Path) -> None:
    async with running("scoring", tmp_path, clock=fixed_clock(NOW)) as s:
        admin = s.auth(roles="admin")
        r = await s.client.get("/v1/schemes/default", headers=s.auth(roles="leader"))
        assert r.status_code == 200 and r.json()["version"] == 1
        assert r.json()["weights"]["ecological"] == {"on_time_closure": 0.25, "completion": 0.2, "quality": 0.15,
                                                      "environment": 0.4}
        body = copy.deepcopy(domain.DEFAULT_SCHEME)
        body["weights"]["department"] = {"on_time_closure": 0.5, "completion": 0.3, "quality": 0.2,
                                         "environment": 0.0}
        body["penalty"] = {"amount": 50000, "currency": "CNY", "note": "扣减生态补偿资金"}
        r = await s.client.put("/v1/schemes/default", headers=admin, json=body)
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 2 and r.json()["versions"] == [1, 2]
        r = await s.client.get("/v1/schemes/default", params={"version": 1}, headers=admin)
        assert r.json()["weights"]["department"]["on_time_closure"] == 0.4
        r = await s.client.get("/v1/schemes/default", headers=admin)
        assert r.json()["version"] == 2 and r.json()["penalty"]["note"] == "扣减生态补偿资金"
        events = await s.events()
        assert [(e["type"], e["data"]["version"]) for e in events] == [("score.scheme_versioned", 2)]
        r = await s.client.get("/v1/scores", params={"period": "2020-06", "kind": "region", "scheme_id": "nope"},
                               headers=admin)
        assert r.status_code == 404


async def test_bad_schemes_are_refused_with_nothing_stored(tmp_path: Path) -> None:
    async with running("scoring", tmp_path, clock=fixed_clock(NOW)) as s:
        admin = s.auth(roles="admin")
        bad_sum = copy.deepcopy(domain.DEFAULT_SCHEME)
        bad_sum["weights"]["industrial"]["quality"] = 0.3          # 0.30 + 0.25 + 0.30 + 0.20 = 1.05
        missing = copy.deepcopy(domain.DEFAULT_SCHEME)
        del missing["weights"]["ecological"]
        unknown = copy.deepcopy(domain.DEFAULT_SCHEME)
        unknown["weights"]["desert"] = {c: 0.25 for c in domain.COMPONENTS}
        negative = copy.deepcopy(domain.DEFAULT_SCHEME)
        negative["bottom_named"] = -1
        for body, field in ((bad_sum, "weights.industrial"), (missing, "weights.ecological"),
                            (unknown, "weights.desert"), (negative, "bottom_named")):
            r = await s.client.put("/v1/schemes/tight", headers=admin, json=body)
            assert r.status_code == 422, r.text
            assert field in [d["field"] for d in r.json()["error"]["details"]]
        assert "industrial" in (await s.client.put("/v1/schemes/tight", headers=admin, json=bad_sum)).json()[
            "error"]["message"]
        r = await s.client.put("/v1/schemes/tight", headers=s.auth(roles="responsible", org="xincheng"),
                               json=domain.DEFAULT_SCHEME)
        assert r.status_code == 403
        assert (await s.client.get("/v1/schemes/tight", headers=admin)).status_code == 404
        async with s.rt.read() as session:
            assert await count_rows(session, SchemeVersion) == 0
        assert await s.events() == []


async def test_readings_one_or_many_and_unknown_org_or_indicator_refused_with_nothing_stored(tmp_path: Path) -> None:
    issues, _ = streams()
    async with running("scoring", tmp_path, clock=fixed_clock(NOW)) as s:
        await deliver_all(s, issues)
        system = s.auth(sub="service:monitoring", roles="system")
        good = {"org_id": "xincheng", "indicator": "pm25", "value": 33.5, "observed_at": "2020-06-29T04:00:00+08:00"}
        for body, field in (([good, {**good, "org_id": "atlantis"}], "1.org_id"),
                            ({**good, "indicator": "noise_db"}, "0.indicator")):
            r = await s.client.post("/v1/readings", headers=system, json=body)
            assert r.status_code == 422, r.text
            assert r.json()["error"]["details"][0]["field"] == field
            assert ("atlantis" if field == "1.org_id" else "noise_db") in r.json()["error"]["message"]
        r = await s.client.post("/v1/readings", headers=system, json={**good, "observed_at": "2020-06-29T04:00:00"})
        assert r.status_code == 422  # a time without its zone is refused
        r = await s.client.post("/v1/readings", headers=s.auth(roles="responsible", org="xincheng"), json=good)
        assert r.status_code == 403
        async with s.rt.read() as session:
            assert await count_rows(session, ReadingRow) == 0
        assert await s.events() == []
        r = await s.client.post("/v1/readings", headers=system, json=good)
        assert r.status_code == 201 and len(r.json()["items"]) == 1
        r = await s.client.post("/v1/readings", headers=s.auth(roles="admin"), json=[good, {**good, "value": 30}])
        assert r.status_code == 201 and len(r.json()["items"]) == 2
        events = await s.events()
        assert [e["type"] for e in events] == ["indicator.recorded"] * 3
        assert events[0]["data"]["org_id"] == "xincheng" and events[0]["data"]["value"] == 33.5


async def test_readings_listed_oldest_first_filtered_and_paged_with_bad_values_named(tmp_path: Path) -> None:
    issues, _ = streams()
    async with running("scoring", tmp_path, clock=fixed_clock(NOW)) as s:
        await deliver_all(s, issues)
        system = s.auth(sub="service:monitoring", roles="system")
        days = ["2020-06-03", "2020-06-01", "2020-06-02", "2020-06-05", "2020-06-04"]
        body = [{"org_id": "xincheng", "indicator": "pm25", "value": 30 + i, "observed_at": f"{d}T20:00:00+08:00"}
                for i, d in enumerate(days)]
        body.append({"org_id": "wuchuan", "indicator": "pm25", "value": 50, "observed_at": "2020-06-02T20:00:00+08:00"})
        assert (await s.client.post("/v1/readings", headers=system, json=body)).status_code == 201
        leader = s.auth(roles="leader", org="city-leaders")
        seen: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(10):
            r = await s.client.get("/v1/readings", headers=leader, params={
                "org_id": "xincheng", "indicator": "pm25", "limit": 2, **({"cursor": cursor} if cursor else {})})
            assert r.status_code == 200, r.text
            seen += r.json()["items"]
            cursor = r.json()["next_cursor"]
            if not cursor:
                break
        assert [i["observed_at"][:10] for i in seen] == sorted(days)
        assert [i["value"] for i in seen] == [31, 32, 30, 34, 33] and {i["org_id"] for i in seen} == {"xincheng"}
        r = await s.client.get("/v1/readings", headers=leader, params={
            "indicator": "pm25", "from": "2020-06-02T00:00:00+08:00", "to": "2020-06-04T00:00:00+08:00"})
        assert sorted((i["org_id"], i["value"]) for i in r.json()["items"]) == [
            ("wuchuan", 50), ("xincheng", 30), ("xincheng", 32)]
        for params, field in (({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"from": "2020-06-02"}, "from"),
                              ({"to": "2020-06-02T00:00:00"}, "to"), ({"org_id": "a b"}, "org_id"),
                              ({"from": "2020-06-04T00:00:00+08:00", "to": "2020-06-02T00:00:00+08:00"}, "to"),
                              ({"cursor": "not-a-cursor"}, "cursor")):
            r = await s.client.get("/v1/readings", headers=leader, params=params)
            assert r.status_code == 422, (params, r.text)
            assert field in {d["field"] for d in r.json()["error"]["details"]}, (params, r.json())
        assert (await s.client.get("/v1/readings")).status_code == 401


async def publish(s: Running, **body: Any) -> dict[str, Any]:
    r = await s.client.post("/v1/rankings", headers=s.auth(roles="admin"), json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def test_published_ranking_is_frozen_and_a_correction_supersedes_it(tmp_path: Path) -> None:
    issues, verification = streams()
    clock = fixed_clock(NOW)
    async with running("scoring", tmp_path, clock=clock) as s:
        await deliver_all(s, issues[:-1] + verification[:-1])   # i3's sign-off (and its status move) not yet consumed
        scheme = copy.deepcopy(domain.DEFAULT_SCHEME)
        scheme.update(bottom_named=1, penalized=1, penalty={"amount": 50000, "currency": "CNY", "note": "扣减资金"})
        r = await s.client.put("/v1/schemes/monthly", headers=s.auth(roles="admin"), json=scheme)
        assert r.status_code == 200
        first = await publish(s, period="2020-06", kind="region", scheme_id="monthly")
        assert first["supersedes"] is None and first["correction"] is False
        # xincheng before i3's sign-off: on time 1 of 3, done 1 of 3, no reading:
        # 0.30 × 33.333… + 0.20 × 33.333… + 0.20 × 100 + 0.30 × 100 = 10 + 6.666… + 20 + 30 = 66.67
        assert [(r["org_id"], r["score"], r["named"]) for r in first["rows"]] == [
            ("wuchuan", 98.0, False), ("xincheng", 66.67, True)]
        assert first["penalized"] == ["xincheng"] and first["rows"][1]["penalty"]["amount"] == 50000

        await s.deliver(verification[-1])                       # the late sign-off arrives
        await s.deliver(issues[-1])                             # and the issues service's move to signed_off
        clock.set(bj("2020-07-06 10:00"))
        second = await publish(s, period="2020-06", kind="region", scheme_id="monthly")
        assert second["supersedes"] == first["id"] and second["correction"] is True
        # done 2 of 3 now: 10 + 13.333… + 20 + 30 = 73.33
        assert second["rows"][1]["score"] == 73.33

        admin = s.auth(roles="leader")
        again = (await s.client.get(f"/v1/rankings/{first['id']}", headers=admin)).json()
        assert again["rows"] == first["rows"] and again["superseded_by"] == second["id"]
        listed = (await s.client.get("/v1/rankings", params={"period": "2020-06"}, headers=admin)).json()["items"]
        assert [x["id"] for x in listed] == [second["id"], first["id"]]
        current = (await s.client.get("/v1/rankings", params={"current": "true"}, headers=admin)).json()["items"]
        assert [x["id"] for x in current] == [second["id"]]

        published = [e for e in await s.events() if e["type"] == "ranking.published"]
        assert [e["data"]["supersedes"] for e in published] == [None, first["id"]]
        row = published[1]["data"]["rows"][1]
        assert row["org_name"] == "新城区" and row["components"]["completion"] == 66.67
        assert published[1]["data"]["bottom_named"] == ["xincheng"]


async def test_ranking_of_another_scheme_is_not_a_correction(tmp_path: Path) -> None:
    issues, verification = streams()
    async with running("scoring", tmp_path, clock=fixed_clock(NOW)) as s:
        await deliver_all(s, issues + verification)
        await s.client.put("/v1/schemes/other", headers=s.auth(roles="admin"), json=domain.DEFAULT_SCHEME)
        a = await publish(s, period="2020-06", kind="region")
        b = await publish(s, period="2020-06", kind="region", scheme_id="other")
        c = await publish(s, period="2020-06", kind="department")
        assert (a["supersedes"], b["supersedes"], c["supersedes"]) == (None, None, None)
        r = await s.client.post("/v1/rankings", headers=s.auth(roles="admin"),
                                json={"period": "2020-13", "kind": "region"})
        assert r.status_code == 422
        r = await s.client.post("/v1/rankings", headers=s.auth(roles="responsible", org="x"),
                                json={"period": "2020-06", "kind": "region"})
        assert r.status_code == 403


async def test_issue_fact_survives_sign_off_consumed_before_registration(tmp_path: Path) -> None:
    issues, verification = streams()
    async with running("scoring", tmp_path, clock=fixed_clock(NOW)) as s:
        await deliver_all(s, verification[:2])                  # i1's closure events first
        r = await s.client.get("/v1/facts/issues/i1", headers=s.auth(roles="admin"))
        assert r.status_code == 404
        await deliver_all(s, issues)
        assert await s.deliver(issues[3]) == "duplicate"
        r = await s.client.get("/v1/facts/issues/i1", headers=s.auth(roles="admin"))
        assert r.json()["status"] == "signed_off" and r.json()["signed_off_at"].startswith("2020-06-02T01:00")
