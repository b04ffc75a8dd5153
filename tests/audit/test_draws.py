"""An auditor recomputes every re-inspection draw (抽查) from an exported log alone, with no service running."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from audit.compare import compare_live
from audit.draws import check_draws, recompute
from audit.export import export_http
from audit.files import events_file
from audit.replay import replay_export
from closeloop.cli import app
from tests.audit.scenario import history, jpeg_bytes, world
from tests.support import running
from tests.verification.helpers import World
from tests.verification.test_samples import OTHER_SUPER, closed_task, draw


async def exported(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """A verification log with two draws (one stratified) and a rebound found in re-inspection, exported."""
    async with running("verification", tmp_path / "svc") as ver:
        w = World(ver)
        for region in ("saihan", "saihan", "xincheng", "huimin"):
            await closed_task(w, region=region)
        first = await draw(w, share=0.5, stratify_by="region")
        second = await draw(w, count=2)
        issue_id = second["items"][0]["issue_id"]
        other = w.who("supervisor", OTHER_SUPER)
        evidence = await w.evidence(issue_id, headers=other)
        r = await w.client.post(f"/v1/samples/{second['id']}/items/{issue_id}/reinspection", headers=other,
                                json={"outcome": "rebound", "opinion": "问题反弹", "evidence_ids": [evidence]})
        assert r.status_code == 200, r.text
        await ver.events()
        out = tmp_path / "export"
        token = ver.auth(sub="auditor", roles="auditor")["Authorization"].split(" ", 1)[1]
        await export_http(out, {"verification": "http://verification"}, token=token,
                          transport={"verification": httpx.ASGITransport(app=ver.app)})
        result = await replay_export(out)
        assert result.ok, (result.projections.anomalies, result.handler_failures)
        replayed = result.projections.samples
        assert set(replayed) == {first["id"], second["id"]}
        assert replayed[second["id"]]["items"][issue_id]["outcome"] == "rebound"
        diffs = await compare_live(result, {"verification": "http://verification"}, token=token,
                                   transport={"verification": httpx.ASGITransport(app=ver.app)})
        assert diffs == []
    return out, [first, second]


async def test_the_auditor_recomputes_every_draw_from_the_export_alone(tmp_path: Path) -> None:
    out, draws = await exported(tmp_path)
    report = check_draws(out)  # the service has stopped: only the files are read
    assert report.ok, (report.log_problems, [d.mismatches for d in report.draws])
    assert [d.sample_id for d in report.draws] == [d["id"] for d in draws]
    assert [d.drawn for d in report.draws] == [[i["issue_id"] for i in d["items"]] for d in draws]
    assert all(d.notes == ["the export has no issues log: candidates not checked against it"] for d in report.draws)
    result = CliRunner().invoke(app, ["audit", "draws", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 draw(s), 0 mismatch(es)" in result.output


async def test_a_draw_whose_tasks_or_seed_were_not_those_of_its_inputs_is_a_mismatch(tmp_path: Path) -> None:
    out, _ = await exported(tmp_path)
    lines = [json.loads(x) for x in events_file(out, "verification").read_text(encoding="utf-8").splitlines()]
    data = next(line["event"]["data"] for line in lines if line["event"]["type"] == "sample.drawn")
    assert recompute(data) == []
    steered = {**data, "items": list(reversed(data["items"]))[:1]}
    assert any("tasks drawn" in p for p in recompute(steered))
    reseeded = {**data, "checkpoint": {**data["checkpoint"], "root": "0" * 64}}
    assert any("seed" in p for p in recompute(reseeded))
    # the same forgery written into the file breaks the event's hash: verify and the draw check both refuse it
    text = events_file(out, "verification").read_text(encoding="utf-8")
    events_file(out, "verification").write_text(text.replace(data["seed"], "f" * 64, 1), encoding="utf-8")
    report = check_draws(out)
    assert not report.ok and report.log_problems
    result = CliRunner().invoke(app, ["audit", "draws", str(out)])
    assert result.exit_code == 1


async def test_a_draw_and_a_rebound_found_in_re_inspection_replay_across_the_four_services(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        await history(w)  # HH-A signed off on 2020-09-20 by the inspection office
        ver = w.services["verification"]
        w.at("2020-10-05 10:00")
        r = await ver.client.post("/v1/samples", headers=ver.auth(sub="office", org="inspection-office",
                                                                 roles="admin"),
                                  json={"period": "2020-09", "count": 1})
        assert r.status_code == 201, r.text
        sample = r.json()
        assert [i["code"] for i in sample["items"]] == ["HH-A"]
        issue_id = sample["items"][0]["issue_id"]
        other = ver.auth(sub="water", org="city-water", roles="supervisor")
        w.at("2020-10-12 15:00")
        evidence = await ver.client.post("/v1/evidence", headers=other, data={"issue_id": issue_id, "kind": "photo"},
                                         files={"file": ("site.jpg", jpeg_bytes((90, 90, 90)), "image/jpeg")})
        assert evidence.status_code == 201, evidence.text
        r = await ver.client.post(f"/v1/samples/{sample['id']}/items/{issue_id}/reinspection", headers=other,
                                  json={"outcome": "rebound", "opinion": "复核发现反弹",
                                        "evidence_ids": [evidence.json()["id"]]})
        assert r.status_code == 200, r.text
        await w.sync()
        r = await w.services["issues"].client.get(f"/v1/issues/{issue_id}",
                                                   headers=w.services["issues"].auth(roles="admin"))
        assert r.json()["status"] == "in_progress"  # the rebound reopened it
        out = tmp_path / "export"
        await export_http(out, w.urls(), token=w.auditor_token(), transport=w.transports())
        report = check_draws(out)
        assert report.ok and [d.notes for d in report.draws] == [[]], [d.__dict__ for d in report.draws]
        result = await replay_export(out)
        assert result.ok, (result.projections.anomalies, result.handler_failures)
        assert result.projections.samples[sample["id"]]["items"][issue_id]["outcome"] == "rebound"
        notify_rows = result.derived["notify"]["notify_reinspection"]
        assert [(row["issue_id"], row["outcome"]) for row in notify_rows] == [(issue_id, "rebound")]
        facts = [row for row in result.derived["scoring"]["scoring_issue_event"] if row["type"] == "sample.reinspected"]
        assert [f["detail"] for f in facts] == ["rebound"]
        assert await compare_live(result, w.urls(), token=w.auditor_token(), transport=w.transports()) == []
        scoring = w.services["scoring"]
        clues = await scoring.client.get("/v1/accountability/clues", headers=scoring.auth(roles="leader"),
                                         params={"rule": "rebound"})
        assert [(c["code"], [e["type"] for e in c["events"]]) for c in clues.json()["items"]] == [
            ("HH-A", ["issue.reopened", "sample.reinspected"])]
