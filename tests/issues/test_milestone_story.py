"""重要节点 across the four services, worked by hand: a milestone missed then met (late), a second one disputed and
then met on time.

The story is tests/audit/breakdown_scenario.py (milestones): HH-M of 新城区 (urban_core), due 2020-12-31, with
M1 on 2020-10-31 and M2 on 2020-11-30. The default scheme's urban_core weights are on_time_closure 0.30,
completion 0.20, quality 0.20, environment 0.30; HH-M is due in neither October nor November (on time: 100,
"no issue due"), it stays open (completion 100 × 0 ÷ 1 = 0) and has no target (environment 100).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.audit.breakdown_scenario import Story, milestone_world
from tests.audit.scenario import World, world


@pytest.fixture(scope="module")
async def told(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[World, Story]]:
    async with world(tmp_path_factory.mktemp("milestones")) as w:
        yield w, await milestone_world(w)


def xincheng(scores: dict[str, Any]) -> dict[str, Any]:
    [row] = [r for r in scores["items"] if r["org_id"] == "xincheng"]
    return row


async def inbox(w: World, org: str) -> list[dict[str, Any]]:
    notify = w.services["notify"]
    r = await notify.client.get("/v1/inbox", params={"limit": 200}, headers=notify.auth(org=org, roles="responsible"))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_reminders_before_the_day_and_an_overdue_notice_after_it_passed_unreported(
        told: tuple[World, Story]) -> None:
    w, _ = told
    mine = [(i["type"], i["title"]) for i in await inbox(w, "xincheng") if i["type"].startswith("milestone.")]
    # 7 days before (10-24) and 1 day before (10-30) M1's day, then the day after it (11-01) unreported
    assert ("milestone.near", "重要节点临近:HH-M(还剩7天)") in mine
    assert ("milestone.near", "重要节点临近:HH-M(还剩1天)") in mine
    assert ("milestone.overdue", "重要节点逾期未报:HH-M(2020-10-31)") in mine
    supervisor = [i["type"] for i in await inbox(w, "city-eeb")]
    assert supervisor.count("milestone.overdue") == 1  # the supervising unit is told once, too
    assert supervisor.count("milestone.reported") == 3  # M1 once, M2 twice: each report awaits its review
    assert [i["type"] for i in await inbox(w, "xincheng")].count("milestone.reviewed") == 3


async def test_a_milestone_missed_then_met_late_stays_missed(told: tuple[World, Story]) -> None:
    _, story = told
    [m1] = [m for m in story.seen["m1_on_11_01"]["milestones"] if m["id"] == story.milestones["M1"]]
    assert (m1["state"], m1["overdue"], m1["missed"]) == ("pending", True, True)
    # October, before anything was reported (as of 11-02): quality 100 − 5 × 1 = 95;
    # 0.30 × 100 + 0.20 × 0 + 0.20 × 95 + 0.30 × 100 = 30 + 0 + 19 + 30 = 79
    before = xincheng(story.seen["scores_2020-10_before_report"])
    assert before["score"] == 79.0
    assert (before["components"]["quality"]["score"], before["components"]["quality"]["missed_milestones"]) == (95.0, 1)
    assert before["components"]["quality"]["formula"] == "max(0, 100 − 10 × 0 − 20 × 0 − 5 × 1)"
    # reported met on 11-03 and confirmed on 11-04: met, but after its day — October keeps its 79
    end = {m["id"]: m for m in story.seen["milestones_end"]}
    m1 = end[story.milestones["M1"]]
    assert (m1["state"], m1["outcome"], m1["missed"], m1["evidence_ids"]) == (
        "confirmed", "met", True, ["ev-m1-acceptance"])
    assert xincheng(story.seen["scores_2020-10"])["score"] == 79.0


async def test_a_disputed_report_reported_again_before_the_day_counts_as_met(told: tuple[World, Story]) -> None:
    _, story = told
    m2 = {m["id"]: m for m in story.seen["milestones_end"]}[story.milestones["M2"]]
    assert (m2["state"], m2["outcome"], m2["missed"], m2["disputed"]) == ("confirmed", "met", False, False)
    # November: M2 met on 11-29 (the first report, of 11-27, was disputed on 11-28): quality 100;
    # 0.30 × 100 + 0.20 × 0 + 0.20 × 100 + 0.30 × 100 = 80
    nov = xincheng(story.seen["scores_2020-11"])
    assert (nov["score"], nov["components"]["quality"]["missed_milestones"]) == (80.0, 0)


async def test_the_scheme_says_how_much_a_missed_milestone_costs(told: tuple[World, Story]) -> None:
    _, story = told
    # the scheme "strict" sets 10 points: October's quality 100 − 10 × 1 = 90;
    # 0.30 × 100 + 0.20 × 0 + 0.20 × 90 + 0.30 × 100 = 30 + 0 + 18 + 30 = 78
    strict = xincheng(story.seen["scores_2020-10_strict"])
    assert (strict["score"], strict["components"]["quality"]["score"]) == (78.0, 90.0)
    assert strict["components"]["quality"]["milestone_missed_points"] == 10


async def test_the_weekly_dispatch_lists_the_missed_milestone(told: tuple[World, Story]) -> None:
    from services.notify.digests import SYSTEM, run_weekly

    w, _ = told
    notify = w.services["notify"]
    w.at("2020-12-07 09:00")

    async with notify.rt.unit_of_work(SYSTEM, role="system") as uow:
        assert await run_weekly(uow, now=notify.rt.clock.now(), run_key="test:2020-W50", origin="test") is not None
    [weekly] = [i for i in await inbox(w, "xincheng") if i["type"] == "digest.weekly" and "2020-W50" in i["title"]]
    assert "【重要节点】" in weekly["body"]
    assert "· 【未按期完成】HH-M 节点 2020-10-31「完成 214 个村清洁取暖改造的 60%」(逾期后报告完成)" in weekly["body"]
    assert "2020-11-30" not in weekly["body"]  # met on time: not listed


async def test_the_milestone_story_replays_from_the_exported_log(told: tuple[World, Story], tmp_path: Path) -> None:
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
    replayed = result.projections.issues[story.ids["HH-M"]]["milestones"]
    assert {m["id"]: (m["state"], m["outcome"], m["reports"]) for m in replayed.values()} == {
        story.milestones["M1"]: ("confirmed", "met", 1), story.milestones["M2"]: ("confirmed", "met", 2)}
    # the October ranking is recomputed from events with the scoring code (a missed milestone included)
    assert result.scores is not None and result.scores["rankings_checked"] == 1
    assert await compare_live(result, w.urls(), token=w.auditor_token(), transport=w.transports()) == []
