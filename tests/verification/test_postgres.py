"""On real PostgreSQL: concurrent commands on one issue are serialised, so the rules hold under races."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support import running
from tests.verification.helpers import World


async def test_concurrent_applications_and_decisions_let_exactly_one_through(tmp_path: Path, pg_url: str) -> None:
    async with running("verification", tmp_path, database_url=pg_url) as ver:
        w = World(ver)
        issue = await w.issue()
        evidence = [await w.evidence(issue) for _ in range(2)]
        results = await asyncio.gather(*(w.apply(issue, [e]) for e in evidence))
        assert sorted(r.status_code for r in results) == [201, 409]
        closure = next(r.json()["id"] for r in results if r.status_code == 201)
        decisions = await asyncio.gather(w.decide(closure, "accept"), w.decide(closure, "reject"))
        assert sorted(r.status_code for r in decisions) == [200, 409]
        body = (await w.client.get(f"/v1/closures/{closure}", headers=w.admin)).json()
        assert len(body["decisions"]) == 1
        types = [e["type"] for e in await ver.events() if e["type"].startswith("closure.")]
        assert types[0] == "closure.requested" and len(types) == 2


async def test_reuse_is_found_across_issues_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    async with running("verification", tmp_path, database_url=pg_url) as ver:
        w = World(ver)
        first, second = await w.issue(), await w.issue()
        await w.evidence(first)
        r = await w.upload(second)
        assert r.status_code == 201 and "reused" in r.json()["flags"]


async def test_two_re_inspections_of_one_drawn_task_at_once_let_exactly_one_through_on_postgresql(
        tmp_path: Path, pg_url: str) -> None:
    from tests.verification.test_samples import OTHER_SUPER, closed_task, draw

    async with running("verification", tmp_path, database_url=pg_url) as ver:
        w = World(ver)
        await closed_task(w, region="saihan")
        sample = await draw(w, count=1, stratify_by="region")
        issue_id = sample["items"][0]["issue_id"]
        url = f"/v1/samples/{sample['id']}/items/{issue_id}/reinspection"
        results = await asyncio.gather(*(
            w.client.post(url, headers=w.who("supervisor", org), json={"outcome": "confirmed", "opinion": "属实"})
            for org in (OTHER_SUPER, "city-forestry")))
        assert sorted(r.status_code for r in results) == [200, 409]
        assert [e["type"] for e in await ver.events()].count("sample.reinspected") == 1
