"""A ledger kept elsewhere since 2020, moved in with where each task stood: every service agrees on it.

Five rows recorded on 2021-03-01 (Asia/Shanghai): open, in progress, signed off on its deadline day, signed off
late, signed off and filed. The issues service moves each through the lifecycle with the ledger's dates; the
verification service knows them as signed off without a closure of its own; scoring counts the sign-offs on
their dates; notify sends no overdue notice for them and counts them in the half-year account; the audit
replay rebuilds the same state, and `--until` a day before a sign-off shows the task open.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import select

from audit.compare import compare_live
from audit.export import export_http
from audit.replay import replay_export
from services.notify.digests import half_year_table, tick
from services.notify.store import InboxItem, ReminderSent
from tests.audit.scenario import World, jpeg_bytes, world

ROUND = "nm-2019-inspection"
HEADER = ("code", "round", "category", "title", "region", "responsible_org", "cooperating_orgs", "supervising_org",
          "leader", "deadline", "target_indicator", "target_op", "target_value", "target_unit", "measures",
          "assigned_on", "status", "signed_off_on", "signed_off_by", "filed_on", "filed_by")


def row(code: str, org: str, **history: str) -> dict[str, str]:
    """A ledger row due 2020-09-30, assigned 2020-05-17, with the history columns given."""
    base = {c: "" for c in HEADER}
    base.update(code=code, round=ROUND, category="water", title=f"{code} 整改任务", responsible_org=org,
                supervising_org="inspection-office", leader="分管副市长(生态环境)", deadline="2020-09-30",
                measures="按方案整改", assigned_on="2020-05-17")
    base.update(history)
    return base


ROWS = [
    row("HX-1", "d-a"),
    row("HX-2", "d-a", status="in_progress"),
    row("HX-3", "d-b", status="signed_off", signed_off_on="2020-09-30"),  # on its deadline day: on time
    row("HX-4", "d-b", status="已销号", signed_off_on="2020-10-20", signed_off_by="inspection-office"),  # late
    row("HX-5", "d-a", status="已备案", signed_off_on="2020-08-01", filed_on="2020-08-15",
        filed_by="inspection-office"),
]


def ledger_csv(rows: list[dict[str, str]]) -> bytes:
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=list(HEADER), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


async def set_up(w: World) -> dict[str, str]:
    """Orgs, the round and the historical ledger, recorded on 2021-03-01; the issue ids by code."""
    issues = w.services["issues"]
    admin = issues.auth(org="inspection-office", roles="admin")
    w.at("2021-03-01 10:00")
    for body in ({"id": "inspection-office", "name": "督察整改办", "kind": "inspection_office"},
                 {"id": "d-a", "name": "甲局", "kind": "department", "zone_type": "department"},
                 {"id": "d-b", "name": "乙局", "kind": "department", "zone_type": "department"}):
        assert (await issues.client.post("/v1/orgs", json=body, headers=admin)).status_code == 201
    r = await issues.client.post("/v1/rounds", headers=admin, json={
        "id": ROUND, "name": "自治区第一生态环境保护督察组", "level": "regional", "feedback_on": "2020-05-17"})
    assert r.status_code == 201, r.text
    r = await issues.client.post("/v1/issues/import", headers=admin,
                                 files={"file": ("ledger.csv", ledger_csv(ROWS), "text/csv")})
    assert r.status_code == 201, r.text
    assert r.json()["created"] == 5
    await w.sync()
    r = await issues.client.get("/v1/issues", params={"limit": 50}, headers=admin)
    return {i["code"]: i["id"] for i in r.json()["items"]}


async def detail(w: World, issue_id: str) -> dict[str, Any]:
    issues = w.services["issues"]
    r = await issues.client.get(f"/v1/issues/{issue_id}", headers=issues.auth(roles="auditor"))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def scores(w: World, period: str) -> dict[str, dict[str, Any]]:
    scoring = w.services["scoring"]
    r = await scoring.client.get("/v1/scores", params={"period": period, "kind": "department"},
                                 headers=scoring.auth(roles="admin"))
    assert r.status_code == 200, r.text
    return {item["org_id"]: item for item in r.json()["items"]}


def ratio(item: dict[str, Any], component: str) -> tuple[int, int]:
    c = item["components"][component]
    return c["numerator"], c["denominator"]


def statuses(result: Any) -> dict[str, str]:
    return {i["code"]: i["status"] for i in result.projections.issues.values()}


async def test_a_historical_ledger_is_moved_in_where_it_stood_in_every_service(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        ids = await set_up(w)
        issues = w.services["issues"]

        # --- issues: status, overdue, history with the business dates
        got = {code: await detail(w, issue_id) for code, issue_id in ids.items()}
        assert {c: (d["status"], d["overdue"]) for c, d in got.items()} == {
            "HX-1": ("registered", True), "HX-2": ("in_progress", True), "HX-3": ("signed_off", False),
            "HX-4": ("signed_off", False), "HX-5": ("filed", False)}
        filed = got["HX-5"]["history"]
        assert [(h["action"], h["from"], h["to"]) for h in filed] == [
            ("register", None, "registered"), ("apply", "registered", "closure_requested"),
            ("accept", "closure_requested", "signed_off"), ("file", "signed_off", "filed")]
        # each dated at the start of its business day in Asia/Shanghai (UTC 16:00 the day before)
        assert [h["at"][:16] for h in filed] == ["2020-05-16T16:00", "2020-07-31T16:00", "2020-07-31T16:00",
                                                 "2020-08-14T16:00"]
        assert filed[2]["details"]["happened_on"] == "2020-08-01"
        assert filed[2]["details"]["recorded_by_org_id"] == "inspection-office"  # default: the supervising org
        assert filed[3]["details"]["happened_on"] == "2020-08-15"
        assert all(h["details"]["recorded_at"].startswith("2021-03-01T02:00") for h in filed)
        started = got["HX-2"]["history"]
        assert [(h["action"], h["to"]) for h in started] == [("register", "registered"), ("start", "in_progress")]
        assert started[1]["at"].startswith("2021-03-01T02:00")  # the ledger gives no start date: when recorded

        # --- the events: one registration each, then the moves, each status_changed with its business date
        log = await issues.events()
        moves = [e["data"] for e in log if e["type"] == "issue.status_changed"]
        assert len([e for e in log if e["type"] == "issue.registered"]) == 5
        assert len(moves) == 1 + 2 + 2 + 3
        late_accept = next(m for m in moves if m["issue_id"] == ids["HX-4"] and m["action"] == "accept")
        assert (late_accept["happened_on"], late_accept["at"][:16]) == ("2020-10-20", "2020-10-19T16:00")
        assert not any(e["type"] == "issue.started" for e in log)

        # --- verification: signed off without a closure of its own; no new application; a rebound is allowed
        verification = w.services["verification"]
        up = await verification.client.post(
            "/v1/evidence", headers=verification.auth(org="d-b", roles="responsible"),
            data={"issue_id": ids["HX-3"], "kind": "photo"},
            files={"file": ("a.jpg", jpeg_bytes((10, 120, 30)), "image/jpeg")})
        assert up.status_code == 201, up.text
        r = await verification.client.post("/v1/closures", headers=verification.auth(org="d-b", roles="responsible"),
                                           json={"issue_id": ids["HX-3"], "summary": "再次申请",
                                                 "evidence_ids": [up.json()["id"]]})
        assert r.status_code == 409, r.text
        assert "signed_off" in r.json()["error"]["message"]
        r = await verification.client.get("/v1/closures", params={"issue_id": ids["HX-3"]},
                                          headers=verification.auth(roles="auditor"))
        assert r.json()["items"] == []  # the sign-off is the ledger's, not an application decided here

        # --- scoring: sign-offs counted on their business dates (asked a little after the move-in)
        w.at("2021-03-01 10:30")
        september = await scores(w, "2020-09")
        assert ratio(september["d-b"], "on_time_closure") == (1, 2)  # HX-3 on its deadline day; HX-4 late
        assert ratio(september["d-b"], "completion") == (1, 2)       # HX-4 was signed off in October
        assert ratio(september["d-a"], "on_time_closure") == (1, 3)  # HX-5 signed off 2020-08-01
        year = await scores(w, "2020")
        assert ratio(year["d-b"], "completion") == (2, 2)
        assert ratio(year["d-a"], "completion") == (1, 3)
        assert (year["d-a"]["overdue"], year["d-b"]["overdue"]) == (2, 0)

        # --- notify: overdue and escalation for the open ones only; the half-year account counts the sign-offs
        notify = w.services["notify"]
        w.at("2021-03-01 11:00")
        await tick(notify.rt)
        async with notify.rt.read() as session:
            sent = {(r.issue_id, r.kind) for r in (await session.execute(select(ReminderSent))).scalars()}
            inbox = (await session.execute(select(InboxItem))).scalars().all()
            second_half = await half_year_table(session, period="2020-H2", now=notify.rt.clock.now())
            first_half = await half_year_table(session, period="2020-H1", now=notify.rt.clock.now())
        assert sent == {(ids[c], k) for c in ("HX-1", "HX-2") for k in ("overdue", "escalated")}
        reminded = {i.subject for i in inbox if i.type in ("issue.overdue", "issue.escalated", "deadline.near")}
        assert reminded == {ids["HX-1"], ids["HX-2"]}
        assert {r["org_id"]: (r["assigned"], r["completed"], r["signed_off"]) for r in second_half} == {
            "d-a": (3, 1, 1), "d-b": (2, 2, 2)}
        assert all(r["signed_off"] == 0 for r in first_half)

        # --- a rebound of the filed task, by its supervisor: no closure behind it, said so
        r = await verification.client.post(
            "/v1/reopenings", headers=verification.auth(org="inspection-office", roles="supervisor"),
            json={"issue_id": ids["HX-5"], "reason": "群众举报问题反弹"})
        assert r.status_code == 201, r.text
        assert (r.json()["from_status"], r.json()["closure_id"]) == ("filed", None)
        await w.sync()
        assert (await detail(w, ids["HX-5"]))["status"] == "in_progress"

        # --- the audit replay: the same state from events alone; --until gives the dates' state
        out = tmp_path / "export"
        await export_http(out, w.urls(), token=w.auditor_token(), transport=w.transports())
        result = await replay_export(out)
        assert result.ok, (result.projections.anomalies, result.handler_failures)
        assert statuses(result) == {"HX-1": "registered", "HX-2": "in_progress", "HX-3": "signed_off",
                                    "HX-4": "signed_off", "HX-5": "in_progress"}
        assert await compare_live(result, w.urls(), token=w.auditor_token(), transport=w.transports()) == []

    async def until(day: str) -> dict[str, str]:
        replayed = await replay_export(out, until=date.fromisoformat(day), handlers=False)
        assert replayed.ok, replayed.projections.anomalies
        return statuses(replayed)

    assert await until("2020-05-16") == {}
    assert await until("2020-07-31") == {"HX-1": "registered", "HX-2": "registered", "HX-3": "registered",
                                         "HX-4": "registered", "HX-5": "registered"}
    assert (await until("2020-08-01"))["HX-5"] == "signed_off"
    assert (await until("2020-08-15"))["HX-5"] == "filed"
    assert (await until("2020-09-29"))["HX-3"] == "registered"
    assert (await until("2020-09-30"))["HX-3"] == "signed_off"
    assert (await until("2020-10-19"))["HX-4"] == "registered"
    assert (await until("2020-10-20"))["HX-4"] == "signed_off"
    # the start has no date in the ledger: it is known from when the ledger was moved in
    assert (await until("2021-02-28"))["HX-2"] == "registered"
    assert (await until("2021-03-01")) == {"HX-1": "registered", "HX-2": "in_progress", "HX-3": "signed_off",
                                           "HX-4": "signed_off", "HX-5": "in_progress"}


async def test_a_sign_off_moved_in_is_filed_later_through_the_api_and_the_replay_agrees(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        ids = await set_up(w)
        verification = w.services["verification"]
        admin = verification.auth(org="inspection-office", roles="admin")

        # HX-2 (in progress when moved in) is applied for and accepted here: its filing files that application
        up = await verification.client.post(
            "/v1/evidence", headers=verification.auth(org="d-a", roles="responsible"),
            data={"issue_id": ids["HX-2"], "kind": "photo"},
            files={"file": ("a.jpg", jpeg_bytes((10, 120, 30)), "image/jpeg")})
        assert up.status_code == 201, up.text
        applied = await verification.client.post(
            "/v1/closures", headers=verification.auth(org="d-a", roles="responsible"),
            json={"issue_id": ids["HX-2"], "summary": "整改完成", "evidence_ids": [up.json()["id"]]})
        assert applied.status_code == 201, applied.text
        closure_id = applied.json()["id"]
        r = await verification.client.post(
            f"/v1/closures/{closure_id}/decision", headers=verification.auth(org="inspection-office", roles="supervisor"),
            json={"decision": "accept", "opinion": "同意销号"})
        assert r.status_code == 200, r.text
        await w.sync()

        w.at("2021-03-02 09:00")
        # only the admin files; an issue not signed off cannot be filed
        r = await verification.client.post("/v1/closures/filings", json={"issue_id": ids["HX-3"]},
                                           headers=verification.auth(org="d-b", roles="responsible"))
        assert r.status_code == 403, r.text
        r = await verification.client.post("/v1/closures/filings", json={"issue_id": ids["HX-1"]}, headers=admin)
        assert r.status_code == 409 and "registered" in r.json()["error"]["message"], r.text

        # HX-3 was signed off in the ledger (no application here): filed without one
        r = await verification.client.post("/v1/closures/filings", json={"issue_id": ids["HX-3"]}, headers=admin)
        assert r.status_code == 200, r.text
        assert (r.json()["closure_id"], r.json()["status"]) == (None, "filed")
        assert r.json()["filed_at"].startswith("2021-03-02T01:00")
        r = await verification.client.post("/v1/closures/filings", json={"issue_id": ids["HX-2"]}, headers=admin)
        assert r.status_code == 200, r.text
        assert r.json()["closure_id"] == closure_id
        # filed once: a second filing is refused while the issues service confirms it, and after
        r = await verification.client.post("/v1/closures/filings", json={"issue_id": ids["HX-3"]}, headers=admin)
        assert r.status_code == 409, r.text
        await w.sync()
        r = await verification.client.post("/v1/closures/filings", json={"issue_id": ids["HX-3"]}, headers=admin)
        assert r.status_code == 409, r.text
        r = await verification.client.get(f"/v1/closures/{closure_id}", headers=verification.auth(roles="auditor"))
        assert r.json()["state"] == "filed"
        r = await verification.client.get("/v1/closures", params={"issue_id": ids["HX-3"]},
                                          headers=verification.auth(roles="auditor"))
        assert r.json()["items"] == []  # still no application behind the ledger's sign-off

        # the issues service moved both to filed, HX-3's filing dated when it was done (not a ledger date)
        for code in ("HX-2", "HX-3"):
            d = await detail(w, ids[code])
            assert d["status"] == "filed"
            assert (d["history"][-1]["action"], d["history"][-1]["from"]) == ("file", "signed_off")
        assert (await detail(w, ids["HX-3"]))["history"][-1]["at"].startswith("2021-03-02T01:00")
        log = await verification.events()
        filings = [e["data"] for e in log if e["type"] == "closure.filed"]
        assert {(f["issue_id"], f.get("closure_id")) for f in filings} == {(ids["HX-3"], None),
                                                                         (ids["HX-2"], closure_id)}

        # the audit: verify and replay find nothing wrong, the replayed state is the live one
        out = tmp_path / "export"
        await export_http(out, w.urls(), token=w.auditor_token(), transport=w.transports())
        result = await replay_export(out)
        assert result.ok, (result.projections.anomalies, result.handler_failures)
        assert statuses(result) == {"HX-1": "registered", "HX-2": "filed", "HX-3": "filed", "HX-4": "signed_off",
                                    "HX-5": "filed"}
        assert await compare_live(result, w.urls(), token=w.auditor_token(), transport=w.transports()) == []

    async def until(day: str) -> dict[str, str]:
        replayed = await replay_export(out, until=date.fromisoformat(day), handlers=False)
        assert replayed.ok, replayed.projections.anomalies
        return statuses(replayed)

    assert (await until("2021-03-01"))["HX-3"] == "signed_off"
    assert (await until("2021-03-02"))["HX-3"] == "filed"
