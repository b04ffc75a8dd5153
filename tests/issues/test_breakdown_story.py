"""任务分解 across the four services, worked by hand: a city task split into three district sub-tasks, one late.

The story is tests/audit/breakdown_scenario.py (breakdown). The default scheme's urban_core weights are
on_time_closure 0.30, completion 0.20, quality 0.20, environment 0.30; none of these tasks has a target, so
environment is 100 ("no target with a reading") throughout.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.audit.breakdown_scenario import Story, breakdown_world
from tests.audit.scenario import World, world


@pytest.fixture(scope="module")
async def told(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[World, Story]]:
    async with world(tmp_path_factory.mktemp("breakdown")) as w:
        yield w, await breakdown_world(w)


def by_org(scores: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["org_id"]: row for row in scores["items"]}


async def test_the_parent_derives_its_progress_from_its_districts_while_one_is_late(told: tuple[World, Story]) -> None:
    _, story = told
    parent = story.seen["parent_on_10_01"]
    # 新城区 and 回民区 signed off count 100 each; 赛罕区 is in progress at its last report, 40:
    # (100 + 100 + 40) / 3 = 80
    assert (parent["status"], parent["children_total"], parent["children_open"], parent["derived_percent"]) == (
        "in_progress", 3, 1, 80)
    assert [(c["code"], c["status"], c["percent"], c["overdue"]) for c in parent["children"]] == [
        ("HH-P-HM", "signed_off", 100, False), ("HH-P-SH", "in_progress", 40, True),
        ("HH-P-XC", "signed_off", 100, False)]
    assert parent["overdue"] is False  # the parent's own deadline, 10-31, has not passed


async def test_the_parent_cannot_be_applied_for_while_a_district_is_open(told: tuple[World, Story]) -> None:
    _, story = told
    status, body = story.refused["apply_parent_on_10_01"]
    assert status == 409
    assert body["error"]["code"] == "illegal_transition"
    assert "HH-P-SH" in body["error"]["message"] and "子任务尚未全部销号" in body["error"]["message"]
    assert body["error"]["details"] == [{"field": "issue_id", "message": "open sub-task HH-P-SH"}]
    # once the late district is signed off too, the parent was applied for and signed off
    after = story.seen["parent_on_10_25"]
    assert (after["status"], after["children_open"], after["derived_percent"]) == ("signed_off", 0, 100)


async def test_each_district_is_scored_for_its_own_sub_task_and_the_parent_not_at_all(
        told: tuple[World, Story]) -> None:
    _, story = told
    regions = by_org(story.seen["scores_2020-09_region"])
    # 新城区: its sub-task was due 09-30 and signed off 08-10 — on time 100 × 1 ÷ 1, completion 100 × 1 ÷ 1,
    # quality 100, environment 100: 0.30 × 100 + 0.20 × 100 + 0.20 × 100 + 0.30 × 100 = 100. 回民区 the same.
    # 赛罕区: due 09-30, still open — on time 100 × 0 ÷ 1 = 0, completion 100 × 0 ÷ 1 = 0, quality 100,
    # environment 100: 0.30 × 0 + 0.20 × 0 + 0.20 × 100 + 0.30 × 100 = 50, and 1 overdue.
    assert {o: (r["score"], r["overdue"]) for o, r in regions.items()} == {
        "xincheng": (100.0, 0), "huimin": (100.0, 0), "saihan": (50.0, 1)}
    sh = regions["saihan"]["components"]
    assert (sh["on_time_closure"]["due"], sh["on_time_closure"]["signed_off_by_deadline"],
            sh["completion"]["assigned"], sh["completion"]["signed_off_or_filed"]) == (1, 0, 1, 0)
    # ties broken by fewer overdue issues, then by org id
    assert [r["org_id"] for r in story.seen["scores_2020-09_region"]["items"]] == ["huimin", "xincheng", "saihan"]
    # the parent, assigned to city-eeb, has sub-tasks: it is not scored itself. city-eeb has nothing assigned:
    # every component 100 ("none due", "none assigned"), score 100
    [eeb] = story.seen["scores_2020-09_department"]["items"]
    assert eeb["org_id"] == "city-eeb" and eeb["score"] == 100.0
    assert (eeb["components"]["completion"]["assigned"], eeb["components"]["on_time_closure"]["due"]) == (0, 0)


async def test_a_district_rebound_reopens_its_signed_off_parent_with_the_reason(told: tuple[World, Story]) -> None:
    w, story = told
    parent = story.seen["parent_on_11_05"]
    # 赛罕区 reopened is in progress again at its last report, 40: (100 + 100 + 40) / 3 = 80
    assert (parent["status"], parent["children_open"], parent["derived_percent"]) == ("in_progress", 1, 80)
    last = parent["history"][-1]
    assert (last["action"], last["from"], last["to"]) == ("reopen", "signed_off", "in_progress")
    assert "子任务 HH-P-SH 反弹" in last["reason"] and "散煤复烧" in last["reason"]
    assert last["details"]["cause"]["type"] == "issue.parent_reopened"
    types = [e["type"] for e in await w.services["issues"].events()]
    assert types.count("issue.parent_reopened") == 1
    notify = w.services["notify"]
    r = await notify.client.get("/v1/inbox", headers=notify.auth(org="city-eeb", roles="responsible"))
    notices = [i for i in r.json()["items"] if i["type"] == "issue.parent_reopened"]
    assert len(notices) == 1 and "HH-P-SH" in notices[0]["body"] and "散煤复烧" in notices[0]["body"]


async def test_the_rebound_counts_against_the_district_in_its_month(told: tuple[World, Story]) -> None:
    w, _ = told
    scoring = w.services["scoring"]
    w.at("2020-11-06 10:00")  # a day after the rebound
    r = await scoring.client.get("/v1/scores", params={"period": "2020-11", "kind": "region"},
                                 headers=scoring.auth(org="inspection-office", roles="admin"))
    regions = by_org(r.json())
    # 赛罕区 in 2020-11 (as of 11-06): nothing due in November — on time 100; completion 100 × 0 ÷ 1 = 0 (open
    # again); quality 100 − 20 × 1 = 80 (one rebound); environment 100:
    # 0.30 × 100 + 0.20 × 0 + 0.20 × 80 + 0.30 × 100 = 76
    assert regions["saihan"]["score"] == 76.0
    assert regions["saihan"]["components"]["quality"]["reopened"] == 1
    # the parent's own reopening is no rebound of anybody's: 新城区 and 回民区 keep 100
    assert (regions["xincheng"]["score"], regions["huimin"]["score"]) == (100.0, 100.0)


async def test_lists_show_roots_only_or_the_sub_tasks_of_one_parent(told: tuple[World, Story]) -> None:
    w, story = told
    issues = w.services["issues"]
    admin = issues.auth(org="inspection-office", roles="admin")
    roots = (await issues.client.get("/v1/issues", params={"roots_only": "true"}, headers=admin)).json()["items"]
    assert [i["code"] for i in roots] == ["HH-P"]
    everything = (await issues.client.get("/v1/issues", headers=admin)).json()["items"]
    assert sorted(i["code"] for i in everything) == ["HH-P", "HH-P-HM", "HH-P-SH", "HH-P-XC"]
    kids = (await issues.client.get("/v1/issues", params={"parent_id": story.ids["HH-P"]}, headers=admin)).json()
    assert sorted((i["code"], i["depth"], i["parent_id"]) for i in kids["items"]) == [
        (c, 2, story.ids["HH-P"]) for c in ("HH-P-HM", "HH-P-SH", "HH-P-XC")]
    # a district sees its own sub-task, not its siblings
    mine = (await issues.client.get("/v1/issues", headers=issues.auth(org="saihan", roles="responsible"))).json()
    assert [i["code"] for i in mine["items"]] == ["HH-P-SH"]


async def test_the_ledger_export_shows_the_tree(told: tuple[World, Story]) -> None:
    from io import BytesIO

    from openpyxl import load_workbook

    w, _ = told
    issues = w.services["issues"]
    r = await issues.client.get("/v1/issues/export", headers=issues.auth(org="inspection-office", roles="admin"))
    assert r.status_code == 200
    ws = load_workbook(BytesIO(r.content)).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    header = list(rows[0])
    code, parent, level = header.index("编号"), header.index("上级任务"), header.index("层级")
    kids = header.index("子任务(未销号/总数)")
    # the parent first (due 10-31, after its sub-tasks' 09-30), its sub-tasks right under it
    assert [(row[code], row[parent], row[level], row[kids]) for row in rows[1:]] == [
        ("HH-P", None, 1, "1/3"), ("HH-P-HM", "HH-P", 2, None), ("HH-P-SH", "HH-P", 2, None),
        ("HH-P-XC", "HH-P", 2, None)]


async def test_the_story_replays_from_the_exported_log(told: tuple[World, Story], tmp_path: Path) -> None:
    from audit.compare import compare_live
    from audit.export import export_http
    from audit.replay import replay_export
    from audit.verify import verify_export

    w, story = told
    out = tmp_path / "export"
    await export_http(out, w.urls(), token=w.auditor_token(), transport=w.transports())
    assert all(r.ok for r in verify_export(out))
    result = await replay_export(out)
    assert result.ok, (result.projections.anomalies, result.handler_failures, result.score_anomalies)
    parent = result.projections.issues[story.ids["HH-P"]]
    assert parent["status"] == "in_progress" and len(parent["parent_reopenings"]) == 1
    assert result.projections.issues[story.ids["HH-P-SH"]]["parent_id"] == story.ids["HH-P"]
    assert result.scores is not None and result.scores["rankings_checked"] == 1
    assert await compare_live(result, w.urls(), token=w.auditor_token(), transport=w.transports()) == []
