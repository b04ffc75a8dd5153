"""Accountability clues (问责线索): each rule with a hand-worked example and the events that triggered it."""

from __future__ import annotations

import io
import itertools
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from services.scoring import accountability as acc
from tests.scoring.facts import bj
from tests.support import EventFactory, Running, fixed_clock, running

_ids = itertools.count(1)
NOW = bj("2020-11-15 10:00")


def fact(type_: str, issue: str, at: str, *, org: str | None = None, deadline: str | None = None,
         to_status: str | None = None, detail: str | None = None, code: str | None = None) -> acc.Fact:
    source = "issues" if type_.startswith("issue.") and type_ != "issue.reopened" else "verification"
    return acc.Fact(event_id=f"e{next(_ids):04d}", issue_id=issue, type=type_, source=source, seq=0, time=bj(at),
                    org_id=org, deadline=date.fromisoformat(deadline) if deadline else None, to_status=to_status,
                    detail=detail, code=code)


def reg(issue: str, org: str, deadline: str) -> acc.Fact:
    return fact("issue.registered", issue, "2020-06-01 09:00", org=org, deadline=deadline, code=f"HH-{issue}")


def lines(facts: list[acc.Fact], rankings: list[acc.RankingFact] | None = None,
          **thresholds: int) -> list[acc.Clue]:
    return acc.clues(facts=facts, rankings=rankings or [], thresholds=acc.Thresholds(**thresholds), now=NOW)


def test_a_task_overdue_more_than_n_days_is_a_clue_with_the_events_that_set_its_deadline_and_status() -> None:
    late = [reg("late", "xincheng", "2020-09-30"),
            fact("issue.status_changed", "late", "2020-06-05 09:00", to_status="in_progress")]
    extended = [reg("ext", "wuchuan", "2020-09-30"),
                fact("issue.extension_decided", "ext", "2020-09-20 09:00", deadline="2020-12-31")]
    recent = [reg("recent", "saihan", "2020-10-20")]  # 26 days overdue on 11-15: not more than 30
    done = [reg("done", "saihan", "2020-08-31"),
            fact("issue.status_changed", "done", "2020-08-30 09:00", to_status="signed_off")]
    found = lines([*late, *extended, *recent, *done])
    assert [(c.rule, c.issue_id, c.org_id, c.found["days_overdue"]) for c in found] == [
        ("overdue", "late", "xincheng", 46)]  # 2020-09-30 → 2020-11-15
    clue = found[0]
    assert clue.threshold == {"overdue_days": 30} and clue.code == "HH-late"
    assert [e["event_id"] for e in clue.events] == [late[0].event_id, late[1].event_id]
    assert "逾期 46 天" in clue.summary_zh
    assert [c.issue_id for c in lines([*late, *recent], overdue_days=20)] == ["recent", "late"]  # by unit


def test_rejected_as_superficial_counts_only_that_reason_for_the_unit_responsible_at_the_time() -> None:
    facts = [reg("s", "saihan", "2020-12-31"),
             fact("closure.rejected", "s", "2020-07-01 09:00", detail="insufficient_evidence"),
             fact("closure.rejected", "s", "2020-08-01 09:00", detail="superficial"),
             fact("issue.updated", "s", "2020-08-10 09:00", org="huimin"),
             fact("closure.rejected", "s", "2020-09-01 09:00", detail="superficial")]
    found = lines(facts)
    assert [(c.rule, c.org_id, c.found["count"]) for c in found] == [("superficial", "huimin", 1),
                                                                     ("superficial", "saihan", 1)]
    assert [c.events[0]["event_id"] for c in found] == [facts[4].event_id, facts[2].event_id]
    assert lines(facts, superficial_rejections=2) == []


def test_a_rebound_is_a_clue_and_one_found_in_re_inspection_names_the_re_inspection_too() -> None:
    facts = [reg("r", "huimin", "2020-09-30"),
             fact("closure.accepted", "r", "2020-09-01 09:00"),
             fact("issue.status_changed", "r", "2020-09-01 09:00", to_status="signed_off"),
             fact("issue.reopened", "r", "2020-10-12 09:00"),
             fact("sample.reinspected", "r", "2020-10-12 09:00", detail="rebound"),
             fact("issue.status_changed", "r", "2020-10-12 09:01", to_status="in_progress")]
    found = [c for c in lines(facts) if c.rule == "rebound"]
    assert [(c.org_id, c.found["count"]) for c in found] == [("huimin", 1)]
    assert [e["type"] for e in found[0].events] == ["issue.reopened", "sample.reinspected"]
    assert [c.rule for c in lines(facts, rebounds=2)] == ["overdue"]  # 46 days overdue again after the rebound


def test_milestones_missed_repeatedly_is_inactive_until_the_milestone_events_exist_and_then_counts_misses() -> None:
    spec = next(r for r in acc.RULES if r.rule == "missed_milestones")
    facts = [reg("m", "wuchuan", "2020-12-31"),
             fact("issue.milestone_reviewed", "m", "2020-08-01 09:00", detail="confirmed:missed"),
             fact("issue.milestone_reviewed", "m", "2020-09-01 09:00", detail="disputed:missed"),
             fact("issue.milestone_reviewed", "m", "2020-10-01 09:00", detail="confirmed:missed")]
    tasks = [acc._Task(facts)]
    found = acc.missed_milestones(tasks, [], acc.Thresholds(), NOW.date())
    assert [(c.org_id, c.found["count"]) for c in found] == [("wuchuan", 2)]
    assert [e["event_id"] for e in found[0].events] == [facts[1].event_id, facts[3].event_id]
    from contracts.registry import is_known
    assert spec.active == is_known("issue.milestone_reviewed")
    if not spec.active:
        assert [c.rule for c in lines(facts)] == []


def ranking(period: str, named: list[str], at: str) -> acc.RankingFact:
    return acc.RankingFact(ranking_id=f"rk-{period}", period=period, kind="region", scheme_id="default",
                           published_at=bj(at), bottom_named=tuple(named), event_id=f"ev-{period}")


def test_a_unit_named_at_the_bottom_in_k_of_the_last_m_rankings_is_a_clue() -> None:
    rankings = [ranking("2020-07", ["wuchuan", "saihan"], "2020-08-01 10:00"),
                ranking("2020-08", ["wuchuan", "huimin"], "2020-09-01 10:00"),
                ranking("2020-09", ["saihan", "huimin"], "2020-10-01 10:00"),
                ranking("2020-10", ["huimin", "xincheng"], "2020-11-01 10:00")]
    # the last 3 are 08, 09, 10: huimin 3 times, saihan, wuchuan and xincheng once each (wuchuan's July is too old)
    found = lines([], rankings)
    assert [(c.org_id, c.found["times"], c.found["periods"]) for c in found] == [
        ("huimin", 3, ["2020-08", "2020-09", "2020-10"])]
    assert [e["event_id"] for e in found[0].events] == ["ev-2020-08", "ev-2020-09", "ev-2020-10"]
    assert found[0].threshold == {"bottom_times": 2, "bottom_of_last": 3}
    assert [c.org_id for c in lines([], rankings, bottom_of_last=4)] == ["huimin", "saihan", "wuchuan"]


# ---- the service ----------------------------------------------------------------------------------------------


def feed(s: Running) -> list[Any]:
    """Orgs and tasks as the issues and verification topics carry them (a late task, a superficial rejection,
    a rebound found in re-inspection); one org's name looks like a formula."""
    iss, ver = EventFactory("issues"), EventFactory("verification")
    out = []
    for org_id, name in (("xincheng", "新城区"), ("saihan", "=HYPERLINK(\"http://evil.example\",\"赛罕区\")"),
                         ("huimin", "回民区"), ("wuchuan", "武川县")):
        out.append(iss.make("org.registered", org_id, {"org_id": org_id, "name": name, "kind": "region",
                                                       "zone_type": "urban_core"}, time=bj("2020-01-02 09:00")))
    for issue_id, org, deadline in (("late", "xincheng", "2020-09-30"), ("sup", "saihan", "2020-12-31"),
                                    ("reb", "huimin", "2020-12-31")):
        out.append(iss.make("issue.registered", issue_id, {
            "issue_id": issue_id, "code": f"HH-{issue_id}", "round_id": "nm-2019", "category": "air",
            "title": "整改任务", "responsible_org_id": org, "supervising_org_id": "inspection-office",
            "deadline": deadline}, time=bj("2020-06-01 09:00")))
    common = {"supervising_org_id": "inspection-office"}
    out.append(ver.make("closure.rejected", "sup", {"closure_id": "c1", "issue_id": "sup", "responsible_org_id": "saihan",
                                                    "opinion": "围挡缺失", "reason_code": "superficial", **common},
                        time=bj("2020-08-01 09:00")))
    out.append(ver.make("issue.reopened", "reb", {"reopening_id": "ro1", "issue_id": "reb",
                                                  "responsible_org_id": "huimin", "reason": "抽查复核发现反弹",
                                                  "sample_id": "smp1"}, time=bj("2020-10-12 09:00")))
    out.append(ver.make("sample.reinspected", "smp1", {
        "sample_id": "smp1", "period": "2020-10", "issue_id": "reb", "outcome": "rebound", "opinion": "反弹",
        "responsible_org_id": "huimin", "reinspector_org_id": "city-water", "reopening_id": "ro1", **common},
        time=bj("2020-10-12 09:00")))
    return out


@pytest.fixture
async def scoring(tmp_path: Path) -> Any:
    async with running("scoring", tmp_path, clock=fixed_clock("2020-11-15T02:00:00+00:00")) as s:
        for env in feed(s):
            assert await s.deliver(env) == "handled", env.type
        yield s


def who(s: Running, role: str) -> dict[str, str]:
    if role == "no-token":
        return {}
    org = {"responsible": "xincheng", "supervisor": "inspection-office"}.get(role, "inspection-office")
    return s.auth(sub=role, org=org, roles=[] if role == "none" else [role])


async def test_the_clues_list_each_rule_with_its_events_page_by_page(scoring: Running) -> None:
    s = scoring
    r = await s.client.get("/v1/accountability/clues", headers=who(s, "leader"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(c["rule"], c["code"], c["org_id"]) for c in body["items"]] == [
        ("overdue", "HH-late", "xincheng"), ("superficial", "HH-sup", "saihan"), ("rebound", "HH-reb", "huimin")]
    assert [e["type"] for e in body["items"][2]["events"]] == ["issue.reopened", "sample.reinspected"]
    assert body["items"][0]["found"]["days_overdue"] == 46 and body["items"][0]["org_name"] == "新城区"
    assert {r["rule"]: r["active"] for r in body["rules"]}["overdue"] is True
    first = await s.client.get("/v1/accountability/clues", headers=who(s, "admin"), params={"limit": 2})
    assert [c["rule"] for c in first.json()["items"]] == ["overdue", "superficial"]
    rest = await s.client.get("/v1/accountability/clues", headers=who(s, "admin"),
                              params={"limit": 2, "cursor": first.json()["next_cursor"]})
    assert [c["rule"] for c in rest.json()["items"]] == ["rebound"] and rest.json()["next_cursor"] is None
    only = await s.client.get("/v1/accountability/clues", headers=who(s, "admin"), params={"rule": "rebound"})
    assert [c["code"] for c in only.json()["items"]] == ["HH-reb"]
    bad = await s.client.get("/v1/accountability/clues", headers=who(s, "admin"), params={"rule": "lazy"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "rule"
    bad = await s.client.get("/v1/accountability/clues", headers=who(s, "admin"), params={"cursor": "nope"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "cursor"


async def test_the_clues_export_to_xlsx_with_a_formula_looking_name_kept_as_text(scoring: Running) -> None:
    r = await scoring.client.get("/v1/accountability/clues/export", headers=who(scoring, "admin"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["问责线索", "触发事件", "规则"]
    rows = list(wb["问责线索"].iter_rows(min_row=3, values_only=True))
    assert [(row[1], row[5]) for row in rows] == [("逾期未完成整改", "HH-late"), ("表面整改被退回", "HH-sup"),
                                                  ("整改后反弹", "HH-reb")]
    cell = wb["问责线索"].cell(row=4, column=4)
    assert cell.value.startswith("=HYPERLINK") and cell.data_type == "s"
    assert len(list(wb["触发事件"].iter_rows(min_row=3))) == sum(row[8] for row in rows)


async def test_thresholds_come_from_the_settings(tmp_path: Path) -> None:
    async with running("scoring", tmp_path, clock=fixed_clock("2020-11-15T02:00:00+00:00"),
                       clue_overdue_days=60) as s:
        for env in feed(s):
            await s.deliver(env)
        r = await s.client.get("/v1/accountability/clues", headers=who(s, "admin"))
    assert [c["rule"] for c in r.json()["items"]] == ["superficial", "rebound"]  # 46 days is not more than 60
    assert {x["rule"]: x["threshold"] for x in r.json()["rules"]}["overdue"] == {"overdue_days": 60}


@pytest.mark.parametrize("role", ["admin", "leader", "auditor", "responsible", "supervisor", "system", "none",
                                  "no-token"])
async def test_only_admin_and_leaders_see_the_clues(scoring: Running, role: str) -> None:
    expected = {"admin": 200, "leader": 200, "no-token": 401}.get(role, 403)
    for path in ("/v1/accountability/clues", "/v1/accountability/clues/export"):
        r = await scoring.client.get(path, headers=who(scoring, role))
        assert r.status_code == expected, (role, path, r.text)
