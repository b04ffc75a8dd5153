"""Replay: a scenario with a known history, exported from the live services, rebuilt from its events alone."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import structlog
from typer.testing import CliRunner

from audit.compare import compare_live
from audit.export import export_http
from audit.replay import replay_export
from audit.verify import verify_export
from closeloop.cli import app
from tests.audit.scenario import World, appeals_history, history, world


@pytest.fixture(scope="module")
async def scenario(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[World, Path]]:
    """The four services after the scenario's history, and an export of their logs."""
    tmp = tmp_path_factory.mktemp("audit-scenario")
    async with world(tmp) as w:
        await history(w)
        await appeals_history(w)
        out = tmp / "export"
        await export_http(out, w.urls(), token=w.auditor_token(), transport=w.transports())
        yield w, out


def statuses(result: Any) -> dict[str, tuple[str, str]]:
    return {i["code"]: (i["status"], i["deadline"]) for i in result.projections.issues.values()}


async def test_the_exported_scenario_verifies(scenario: tuple[World, Path]) -> None:
    _, out = scenario
    results = verify_export(out)
    assert all(r.ok for r in results), [str(p) for r in results for p in r.problems]
    assert {r.service: r.events > 0 for r in results} == {"issues": True, "verification": True,
                                                          "scoring": True, "notify": True}


async def test_replay_of_the_full_scenario_equals_the_live_services(scenario: tuple[World, Path]) -> None:
    w, out = scenario
    result = await replay_export(out)
    assert result.ok, (result.projections.anomalies, result.handler_failures)
    assert statuses(result) == {"HH-A": ("signed_off", "2020-12-31"), "HH-B": ("in_progress", "2020-12-31")}
    assert [h["to"] for h in result.projections.history(w.issue_ids["HH-A"])] == [
        "registered", "in_progress", "closure_requested", "in_progress", "closure_requested", "signed_off"]
    assert sorted(c["state"] for c in result.projections.closures.values()) == ["accepted", "rejected"]
    assert set(result.derived) == {"verification", "scoring", "notify"}
    assert all(any(rows for rows in tables.values()) for tables in result.derived.values())
    diffs = await compare_live(result, w.urls(), token=w.auditor_token(), transport=w.transports())
    assert diffs == []


async def test_published_rankings_are_recomputed_from_events_with_the_scoring_code(
        scenario: tuple[World, Path]) -> None:
    _, out = scenario
    result = await replay_export(out)
    assert result.scores is not None and result.scores["rankings_checked"] == 2
    assert result.score_anomalies == []
    ranking, corrected = result.projections.rankings.values()
    assert (ranking["period"], ranking["kind"], ranking["superseded_by"]) == ("2020-09", "region", corrected["ranking_id"])
    assert corrected["on_appeal"]["corrected"] == {"environment": 95.0}
    assert [row["org_id"] for row in result.scores["scores"]["region"]] == ["xincheng"]


async def test_two_replays_are_byte_identical(scenario: tuple[World, Path]) -> None:
    _, out = scenario
    first = await replay_export(out)
    second = await replay_export(out)
    assert first.state_json() == second.state_json()


@pytest.mark.parametrize(("until", "expected"), [
    ("2020-05-31", {}),
    ("2020-06-05", {"HH-A": ("registered", "2020-12-31"), "HH-B": ("registered", "2020-09-30")}),
    ("2020-07-15", {"HH-A": ("closure_requested", "2020-12-31"), "HH-B": ("in_progress", "2020-09-30")}),
    ("2020-08-31", {"HH-A": ("in_progress", "2020-12-31"), "HH-B": ("in_progress", "2020-09-30")}),
    ("2020-09-24", {"HH-A": ("signed_off", "2020-12-31"), "HH-B": ("in_progress", "2020-09-30")}),
    ("2020-09-25", {"HH-A": ("signed_off", "2020-12-31"), "HH-B": ("in_progress", "2020-12-31")}),
])
async def test_until_gives_the_ledger_as_it_was_at_the_end_of_that_day(
        scenario: tuple[World, Path], until: str, expected: dict[str, tuple[str, str]]) -> None:
    _, out = scenario
    result = await replay_export(out, until=date.fromisoformat(until), handlers=False)
    assert statuses(result) == expected


async def test_until_also_rebuilds_the_derived_state_of_that_day(scenario: tuple[World, Path]) -> None:
    _, out = scenario
    before = await replay_export(out, until=date(2020, 7, 31))
    after = await replay_export(out)
    assert before.ok and before.state_json() != after.state_json()
    assert sorted(c["state"] for c in before.projections.closures.values()) == ["open"]


async def test_compare_reports_every_difference_with_the_live_services(scenario: tuple[World, Path]) -> None:
    w, out = scenario
    earlier = await replay_export(out, until=date(2020, 8, 31), handlers=False)
    diffs = await compare_live(earlier, w.urls(), token=w.auditor_token(), transport=w.transports())
    assert any("HH-A" in d and "status" in d for d in diffs)
    assert any("HH-B" in d and "deadline" in d for d in diffs)


def test_replay_cli_prints_a_summary_and_writes_the_state(scenario: tuple[World, Path], tmp_path: Path) -> None:
    _, out = scenario
    runner = CliRunner()
    result = runner.invoke(app, ["audit", "replay", str(out), "--until", "2020-08-31", "--no-handlers",
                                 "--out", str(tmp_path / "state.json")])
    assert result.exit_code == 0, result.output
    assert '"in_progress": 2' in result.output
    assert (tmp_path / "state.json").read_bytes().startswith(b"{")
    result = runner.invoke(app, ["audit", "replay", str(out), "--until", "31/08/2020"])
    assert result.exit_code == 2 and "not a date" in result.output


def test_replay_cli_puts_back_the_logging_of_the_process_that_ran_it(scenario: tuple[World, Path]) -> None:
    """The replay quiets the handlers' logs under its progress bar; run in-process it must not leave them quiet, or
    a later check that some line was (not) logged would pass on nothing."""
    _, out = scenario
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    before, root_level = structlog.get_config(), logging.getLogger().level
    result = CliRunner().invoke(app, ["audit", "replay", str(out), "--until", "2020-08-31", "--no-handlers"])
    assert result.exit_code == 0, result.output
    assert structlog.get_config()["wrapper_class"] is before["wrapper_class"]
    assert logging.getLogger().level == root_level


async def test_replay_reports_progress_for_every_event_and_every_handler_delivery(
        scenario: tuple[World, Path]) -> None:
    _, out = scenario
    folded: list[int] = []
    handled: dict[str, tuple[int, int]] = {}
    result = await replay_export(out, progress=folded.append,
                                 handler_progress=lambda svc, done, total: handled.__setitem__(svc, (done, total)))
    assert sum(folded) == sum(r.events for r in result.verified)
    assert set(handled) == {"verification", "scoring", "notify"}
    assert all(done == total > 0 for done, total in handled.values()), handled


async def test_replay_rebuilds_the_appeals_and_the_published_calendar_and_compare_sees_a_difference(
        scenario: tuple[World, Path]) -> None:
    w, out = scenario
    result = await replay_export(out)
    [appeal] = result.projections.appeals.values()
    assert (appeal["org_id"], appeal["component"], appeal["status"], appeal["late"], appeal["decided_on"]) == (
        "xincheng", "environment", "partly_upheld", True, "2020-10-23")
    assert appeal["corrected_ranking_id"] in result.projections.rankings
    assert result.projections.calendar["2027"]["holidays"] == ["2027-01-01", "2027-01-02", "2027-01-03"]
    assert result.projections.summary()["appeals"] == 1
    # notify's copy of the calendar is rebuilt by its handler from calendar.year_published, beside the seeded years
    notify_years = {row["year"]: row for row in result.derived["notify"]["notify_calendar_year"]}
    assert notify_years[2027]["source"] == "国办发明电〔2026〕示例号" and 2020 in notify_years
    assert any(row["id"] == appeal["id"] and row["status"] == "partly_upheld"
               for row in result.derived["notify"]["notify_appeal"])
    # before the decision, the replay's appeal is pending and the live one is not: compare says so, field by field
    earlier = await replay_export(out, until=date(2020, 10, 20), handlers=False)
    diffs = await compare_live(earlier, w.urls(), token=w.auditor_token(), transport=w.transports())
    assert any(f"appeal {appeal['id']}: status is 'pending' in the replay, 'partly_upheld' live" in d for d in diffs)
    before = await replay_export(out, until=date(2020, 10, 8), handlers=False)
    diffs = await compare_live(before, w.urls(), token=w.auditor_token(), transport=w.transports())
    assert f"scoring: appeal {appeal['id']} is live, not in the replay" in diffs
    # the calendar the log published is compared with the live table
    assert not [d for d in await compare_live(result, w.urls(), token=w.auditor_token(), transport=w.transports())]
    result.projections.calendar["2027"]["workdays"] = ["2027-01-09"]
    diffs = await compare_live(result, w.urls(), token=w.auditor_token(), transport=w.transports())
    assert diffs == ["scoring: calendar year 2027: workdays is ['2027-01-09'] in the replay, [] live"]


async def test_compare_covers_notify_bulletins_rebuilt_from_the_published_rankings(
        scenario: tuple[World, Path]) -> None:
    w, out = scenario
    full = await replay_export(out)
    # September's monthly bulletin, and the correction bulletin the scenario's upheld appeal published
    assert [b["period"] for b in full.derived["notify"]["notify_bulletin"]] == ["2020-09", "2020-09"]
    earlier = await replay_export(out, until=date(2020, 8, 31))
    diffs = await compare_live(earlier, w.urls(), token=w.auditor_token(), transport=w.transports())
    [bulletin] = [b for b in full.derived["notify"]["notify_bulletin"] if b.get("appeal_id") is None]
    assert f"notify: bulletin {bulletin['id']} is live, not in the replay" in diffs, diffs
    assert any(d.startswith("notify: digests started by rankings differ") for d in diffs), diffs


def test_replay_cli_prints_every_reason_it_exits_for(scenario: tuple[World, Path],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A published ranking the scoring code does not recompute fails the replay, and says so, --out or not."""
    import audit.replay

    _, out = scenario
    real = audit.replay.replay_export

    async def with_a_disagreeing_ranking(*args: Any, **kwargs: Any) -> Any:
        result = await real(*args, **kwargs)
        result.score_anomalies.append("scoring ranking.published r-1 (2020-09/region): recomputed from events "
                                      "[('xincheng', 80.0, 1)], published [('xincheng', 90.0, 1)]")
        return result

    monkeypatch.setattr(audit.replay, "replay_export", with_a_disagreeing_ranking)
    result = CliRunner().invoke(app, ["audit", "replay", str(out)])
    assert result.exit_code == 1, result.output
    assert "ANOMALY scoring ranking.published r-1 (2020-09/region)" in result.output
    assert "1 anomaly in the replay" in result.output
