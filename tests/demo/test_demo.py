"""`closeloop demo` on a short span: seeded (the same seed, the same log byte for byte), auditable, plausible."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from audit.compare import compare_live
from audit.export import export_http
from audit.files import events_file
from audit.replay import replay_export
from audit.verify import verify_export
from demo.campaign import DEMO_NOTE, MARK, ROUND, play
from demo.world import world
from runtime.auth import issue_token
from runtime.clock import IdSource, SeededIds, new_id, reset_ids, use_ids

SERVICES = ("issues", "verification", "scoring", "notify")
SHORT = date(2020, 7, 12)   # the first application (扎达盖河, 07-06) and its decision are in
LONG = date(2020, 10, 31)   # two reopenings, rejections, district deadlines from August to October


async def export(data_dir: Path, out: Path) -> tuple[list[str], Any]:
    """Serve the demo's folder again (as `closeloop dev` would), export its logs, replay and compare them."""
    async with world(data_dir, start=datetime.now(UTC)) as w:
        token = issue_token(w.services["issues"].settings, sub="auditor", org=None, roles=["auditor"])
        urls = {name: f"http://{name}" for name in SERVICES}
        transports: dict[str, httpx.AsyncBaseTransport] = {
            name: httpx.ASGITransport(app=w.services[name].app) for name in SERVICES}
        await export_http(out, urls, token=token, transport=transports)
        result = await replay_export(out)
        diffs = await compare_live(result, urls, token=token, transport=transports)
        return diffs, result


@pytest.fixture(scope="module")
async def long_run(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Path, dict[str, Any]]]:
    """The campaign up to the end of October 2020."""
    data = tmp_path_factory.mktemp("demo-long") / "data"
    summary = await play(data, seed=7, until=LONG, echo=lambda _: None)
    yield data, summary


def test_a_seeded_id_source_repeats_itself_and_the_default_does_not() -> None:
    assert [SeededIds(3).uuid() for _ in range(2)] == [SeededIds(3).uuid() for _ in range(2)]
    a, b = SeededIds(3), SeededIds(3)
    assert [a.uuid() for _ in range(3)] == [b.uuid() for _ in range(3)]
    assert IdSource().uuid() != IdSource().uuid()
    token = use_ids(SeededIds("x"))
    try:
        first = new_id()
    finally:
        reset_ids(token)
    assert first == str(SeededIds("x").uuid()) and new_id() != first


async def test_the_same_seed_gives_byte_identical_exported_logs(tmp_path: Path) -> None:
    logs = []
    for run in ("a", "b"):
        data = tmp_path / run / "data"
        await play(data, seed=11, until=SHORT, echo=lambda _: None)
        diffs, result = await export(data, tmp_path / run / "export")
        assert result.ok and diffs == []
        logs.append({name: events_file(tmp_path / run / "export", name).read_bytes() for name in SERVICES})
    assert all(logs[0][name] for name in SERVICES)
    for name in SERVICES:
        assert logs[0][name] == logs[1][name], f"the {name} logs of two runs with one seed differ"
    week: list[bytes] = []
    for run, seed in (("c", 11), ("d", 12)):
        await play(tmp_path / run / "data", seed=seed, until=date(2020, 5, 24), echo=lambda _: None)
        await export(tmp_path / run / "data", tmp_path / run / "export")
        week.append(events_file(tmp_path / run / "export", "issues").read_bytes())
    assert week[0] != week[1], "another seed plays another campaign"


async def test_the_demo_verifies_and_replays_to_what_the_services_hold(
        long_run: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    data, summary = long_run
    diffs, result = await export(data, tmp_path / "export")
    assert all(r.ok for r in verify_export(tmp_path / "export"))
    assert result.ok, (result.projections.anomalies, result.handler_failures, result.score_anomalies)
    assert diffs == []
    assert sum(r.events for r in result.verified) == summary["events_total"]
    assert result.scores is not None and result.scores["rankings_checked"] == summary["stats"]["rankings"] == 10
    marker = json.loads((data / "DEMO.json").read_text(encoding="utf-8"))
    assert marker["demo"] is True and marker["until"] == LONG.isoformat()


async def test_the_campaign_is_plausible_and_marked_as_demo_data(long_run: tuple[Path, dict[str, Any]]) -> None:
    data, summary = long_run
    stats = summary["stats"]
    assert stats["rejections"] >= 3 and stats["reopenings"] >= 2 and stats["filings"] > 0
    async with world(data, start=datetime(2020, 12, 1, 2, 0, tzinfo=UTC)) as w:
        admin = w.auth("admin", "inspection-office")
        issues = (await w.services["issues"].client.get("/v1/issues", params={"limit": 500},
                                                        headers=admin)).json()["items"]
        due = [i for i in issues if i["deadline"] <= LONG.isoformat()]
        assert len(due) >= 10
        on_time = 0
        for item in due:
            one = (await w.services["issues"].client.get(f"/v1/issues/{item['id']}", headers=admin)).json()
            signed = [h["at"] for h in one["history"] if h["to"] == "signed_off"]
            last = one["history"][-1]["to"]
            if signed and last in ("signed_off", "filed") and signed[-1][:10] <= item["deadline"]:
                on_time += 1
            assert one["description"] == DEMO_NOTE
        assert on_time > len(due) / 2, f"only {on_time} of {len(due)} tasks due by October closed on time"
        late = len(due) - on_time
        assert late >= 1, "a campaign where nobody is late is not believable"

        rounds = (await w.services["issues"].client.get("/v1/rounds", headers=admin)).json()["items"]
        assert [r["name"] for r in rounds] == [ROUND["name"]] and "演示数据" in ROUND["name"]

        reused = []
        for item in issues:
            ev = (await w.services["verification"].client.get("/v1/evidence", params={"issue_id": item["id"]},
                                                              headers=admin)).json()["items"]
            reused += [e for e in ev if "reused" in e["flags"]]
            assert all(e["note"].startswith(MARK) for e in ev)
        assert reused, "the photo reused between two issues is flagged"

        bulletins = (await w.services["notify"].client.get("/v1/bulletins", params={"limit": 100},
                                                           headers=admin)).json()["items"]
        assert len(bulletins) == 10  # 2020-05 … 2020-09, regions and departments
        rankings = (await w.services["scoring"].client.get("/v1/rankings", params={"limit": 100},
                                                           headers=admin)).json()["items"]
        september = [r for r in rankings if r["period"] == "2020-09" and r["kind"] == "region"]
        assert len(september) == 1 and len(september[0]["bottom_named"]) == 3
        scores = sorted({row["score"] for row in september[0]["rows"]})
        assert len(scores) > 3, "the districts are told apart"
        digests = (await w.services["notify"].client.get("/v1/digests", params={"limit": 200},
                                                         headers=admin)).json()["items"]
        kinds = {d["kind"] for d in digests}
        assert {"weekly", "half_year"} <= kinds
