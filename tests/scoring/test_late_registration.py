"""An issue registered after its deadline is due and late: it counts against the org responsible at registration."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from audit.export import export_http
from audit.replay import replay_export
from services.scoring import domain
from tests.audit.scenario import world
from tests.scoring.facts import DEFAULT, as_issues_would, bj, ev, org, registered
from tests.scoring.test_api import org_events
from tests.support import EventFactory, fixed_clock, running


def july(events: list[domain.IssueEvent], now: str) -> dict:
    [row] = domain.compute_scores(orgs=[org("d-x", "department", kind="department")], events=events, readings=[],
                                  scheme=DEFAULT, period=domain.parse_period("2020-07"), kind="department",
                                  now=bj(now))
    return row


def test_issue_due_yesterday_registered_today_and_open_scores_25() -> None:
    row = july([registered("L", "d-x", "2020-07-14", at="2020-07-15 10:00")], now="2020-07-15 12:00")
    c = row["components"]
    # due in July and not signed off by its deadline: 100 × 0 ÷ 1; assigned, not done: 100 × 0 ÷ 1; quality 100
    assert (c["on_time_closure"]["numerator"], c["on_time_closure"]["denominator"]) == (0, 1)
    assert (c["completion"]["numerator"], c["completion"]["denominator"]) == (0, 1)
    # department: 0.40 × 0 + 0.35 × 0 + 0.25 × 100 = 25.00 (it was 65.00 while the issue was left out)
    assert row["score"] == 25.0 and row["overdue"] == 1


def test_late_registration_signed_off_afterwards_is_still_late() -> None:
    events = as_issues_would([registered("L", "d-x", "2020-07-10", at="2020-07-15 10:00"),
                              ev("closure.accepted", "L", "2020-07-16 10:00")])
    c = july(events, now="2020-07-31 12:00")["components"]
    assert (c["on_time_closure"]["numerator"], c["on_time_closure"]["denominator"]) == (0, 1)
    assert c["completion"]["score"] == 100.0


def test_late_registration_counts_for_the_org_named_at_registration_not_a_later_one() -> None:
    orgs = [org("d-x", "department", kind="department"), org("d-y", "department", kind="department")]
    events = [registered("L", "d-x", "2020-07-10", at="2020-07-15 10:00"),
              ev("issue.updated", "L", "2020-07-20 10:00", org="d-y")]
    rows = {r["org_id"]: r for r in domain.compute_scores(
        orgs=orgs, events=events, readings=[], scheme=DEFAULT, period=domain.parse_period("2020-07"),
        kind="department", now=bj("2020-07-31 12:00"))}
    assert rows["d-x"]["components"]["on_time_closure"]["denominator"] == 1
    assert rows["d-y"]["components"]["on_time_closure"]["denominator"] == 0
    assert rows["d-y"]["components"]["completion"]["denominator"] == 1  # responsible at the end of July


async def test_scores_api_counts_an_issue_registered_after_its_deadline(tmp_path: Path) -> None:
    f = EventFactory("issues")
    async with running("scoring", tmp_path, clock=fixed_clock("2020-07-15T04:00:00+00:00")) as s:
        for e in org_events(f):
            assert await s.deliver(e) == "handled"
        late = f.make("issue.registered", "late", {
            "issue_id": "late", "code": "HH-L", "round_id": "nm-2019", "category": "air", "title": "迟登记的整改任务",
            "responsible_org_id": "city-eeb", "supervising_org_id": "inspection-office", "deadline": "2020-07-14"},
            time=bj("2020-07-15 10:00"))
        assert await s.deliver(late) == "handled"
        r = await s.client.get("/v1/scores", params={"period": "2020-07", "kind": "department"},
                               headers=s.auth(roles="admin"))
        assert r.status_code == 200, r.text
        [row] = r.json()["items"]
        assert (row["org_id"], row["score"], row["overdue"]) == ("city-eeb", 25.0, 1)


async def test_audit_replay_rebuilds_the_same_score_for_a_late_registration(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        issues, scoring = w.services["issues"], w.services["scoring"]
        admin = issues.auth(org="inspection-office", roles="admin")
        w.at("2020-07-15 09:00")
        for body in ({"id": "inspection-office", "name": "督察整改办", "kind": "inspection_office"},
                     {"id": "city-eeb", "name": "呼和浩特市生态环境局", "kind": "department",
                      "zone_type": "department"}):
            assert (await issues.client.post("/v1/orgs", json=body, headers=admin)).status_code == 201
        r = await issues.client.post("/v1/rounds", headers=admin, json={
            "id": "nm-2019-inspection", "name": "自治区第一生态环境保护督察组", "level": "regional"})
        assert r.status_code == 201, r.text
        r = await issues.client.post("/v1/issues", headers=admin, json={
            "code": "HH-L", "round_id": "nm-2019-inspection", "category": "air", "title": "迟登记的整改任务",
            "responsible_org_id": "city-eeb", "supervising_org_id": "inspection-office", "deadline": "2020-07-14"})
        assert r.status_code == 201, r.text
        await w.sync()
        w.at("2020-07-15 12:00")
        r = await scoring.client.post("/v1/rankings", headers=scoring.auth(org="inspection-office", roles="admin"),
                                      json={"period": "2020-07", "kind": "department"})
        assert r.status_code == 201, r.text
        assert [(row["org_id"], row["score"]) for row in r.json()["rows"]] == [("city-eeb", 25.0)]
        await w.sync()
        out = tmp_path / "export"
        await export_http(out, w.urls(), token=w.auditor_token(), transport=w.transports())
    result = await replay_export(out)
    assert result.ok, (result.projections.anomalies, result.handler_failures)
    assert result.scores is not None and result.scores["rankings_checked"] == 1
    assert result.score_anomalies == []


def moved_in(issue: str, org_id: str, deadline: str, *, assigned: str, recorded: str) -> domain.IssueEvent:
    """A registration recorded at `recorded` of a task assigned on `assigned` (a ledger moved in from elsewhere)."""
    base = registered(issue, org_id, deadline, at=recorded)
    return base._replace(time=domain.effective_time(base.time, date.fromisoformat(assigned)), recorded_at=base.time)


def year_2020(events: list[domain.IssueEvent], now: str) -> dict:
    [row] = domain.compute_scores(orgs=[org("d-x", "department", kind="department")], events=events, readings=[],
                                  scheme=DEFAULT, period=domain.parse_period("2020"), kind="department", now=bj(now))
    return row


def test_a_ledger_moved_in_later_counts_from_its_assigned_date() -> None:
    events = [moved_in("M", "d-x", "2020-12-31", assigned="2020-05-17", recorded="2026-12-01 10:00")]
    c = year_2020(events, now="2026-12-01 12:00")["components"]
    # assigned by the end of 2020 (2020-05-17), due in 2020 and not signed off: counted, where before it was not
    assert (c["completion"]["numerator"], c["completion"]["denominator"]) == (0, 1)
    assert (c["on_time_closure"]["numerator"], c["on_time_closure"]["denominator"]) == (0, 1)


def test_a_score_as_of_a_moment_before_the_move_in_does_not_see_it() -> None:
    events = [moved_in("M", "d-x", "2020-12-31", assigned="2020-05-17", recorded="2026-12-01 10:00")]
    # a ranking published before the ledger was moved in is recomputed as it was published: nothing assigned
    c = year_2020(events, now="2026-11-30 12:00")["components"]
    assert c["completion"]["denominator"] == 0 and c["on_time_closure"]["denominator"] == 0


async def test_scores_api_uses_the_assigned_date_of_issue_registered(tmp_path: Path) -> None:
    f = EventFactory("issues")
    async with running("scoring", tmp_path, clock=fixed_clock("2026-12-01T04:00:00+00:00")) as s:
        for e in org_events(f):
            assert await s.deliver(e) == "handled"
        e = f.make("issue.registered", "m1", {
            "issue_id": "m1", "code": "HH-M", "round_id": "nm-2019", "category": "air", "title": "台账迁入的整改任务",
            "responsible_org_id": "city-eeb", "supervising_org_id": "inspection-office", "deadline": "2020-12-31",
            "assigned_on": "2020-05-17"}, time=bj("2026-12-01 10:00"))
        assert await s.deliver(e) == "handled"
        r = await s.client.get("/v1/scores", params={"period": "2020", "kind": "department"},
                               headers=s.auth(roles="admin"))
        assert r.status_code == 200, r.text
        [row] = r.json()["items"]
        assert row["components"]["completion"]["denominator"] == 1
        assert (row["score"], row["overdue"]) == (25.0, 1)
        r = await s.client.get("/v1/facts/issues/m1", headers=s.auth(roles="admin"))
        assert r.json()["registered_at"].startswith("2020-05-16T16:00")  # 2020-05-17 00:00 in Beijing
