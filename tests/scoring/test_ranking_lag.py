"""Publishing a ranking while scoring lags behind its peers' logs: refused, or published once caught up, with the
positions it was computed at (embedded bus: the peers served over real HTTP, followed by scoring's followers)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlmodel import col

from audit.export import export_http
from audit.replay import replay_export
from contracts import parse_data
from runtime.lag import read_lag
from runtime.models import OutboxRow
from services.scoring.store import Ranking
from tests.support import Running, running

SAMPLE = Path(__file__).resolve().parents[2] / "contracts" / "samples" / "ranking.published.v1.json"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app (its lifespan already running) on a real port, for scoring's feed followers."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def three(tmp: Path, *, wait: float) -> AsyncIterator[tuple[Running, Running, Running]]:
    """issues and verification served over HTTP; scoring following them, its followers not started."""
    async with AsyncExitStack() as stack:
        issues = await stack.enter_async_context(running("issues", tmp))
        ver = await stack.enter_async_context(running("verification", tmp))
        urls = {"issues_url": await stack.enter_async_context(served(issues.app)),
                "verification_url": await stack.enter_async_context(served(ver.app))}
        scoring = await stack.enter_async_context(running("scoring", tmp, follow=True, background=False,
                                                          ranking_catch_up_seconds=wait, **urls))
        yield issues, ver, scoring


async def register_orgs(issues: Running) -> None:
    admin = issues.auth(org="inspection-office", roles="admin")
    for org in [{"id": "inspection-office", "name": "督察整改办", "kind": "inspection_office"},
                {"id": "xincheng", "name": "新城区", "kind": "region", "zone_type": "urban_core"},
                {"id": "wuchuan", "name": "武川县", "kind": "region", "zone_type": "agricultural"}]:
        r = await issues.client.post("/v1/orgs", json=org, headers=admin)
        assert r.status_code == 201, r.text
    await issues.events()  # sequenced: the log's head is where scoring must read to


def start_followers(scoring: Running) -> list[asyncio.Task[None]]:
    return [asyncio.create_task(f.run()) for f in scoring.rt.followers]


async def stop(tasks: list[asyncio.Task[None]]) -> None:
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def ranking_rows(scoring: Running) -> tuple[int, int]:
    async with scoring.rt.sessions() as session:
        rankings = (await session.execute(select(func.count()).select_from(Ranking))).scalar_one()
        published = (await session.execute(select(func.count()).select_from(OutboxRow)
                                           .where(col(OutboxRow.type) == "ranking.published"))).scalar_one()
    return int(rankings), int(published)


PUBLISH = {"period": "2020-09", "kind": "region"}


async def test_a_ranking_is_refused_while_scoring_is_behind_and_nothing_is_written(tmp_path: Path) -> None:
    async with three(tmp_path, wait=0.3) as (issues, _, scoring):
        await register_orgs(issues)
        head = len(await issues.events())
        r = await scoring.client.post("/v1/rankings", json=PUBLISH, headers=scoring.auth(roles="admin"))
        assert r.status_code == 409, r.text
        error = r.json()["error"]
        assert error["code"] == "scoring_behind"
        assert error["message"].startswith("评分服务尚未读完") and "retry in a few seconds" in error["message"]
        [late] = error["details"]  # verification's log is empty: read to its end
        assert (late["field"], late["position"], late["end"], late["lag"]) == ("issues", 0, head, head)
        assert await ranking_rows(scoring) == (0, 0)


async def test_once_caught_up_the_ranking_is_published_with_the_positions_it_was_computed_at(
        tmp_path: Path) -> None:
    async with three(tmp_path, wait=0.3) as (issues, ver, scoring):
        await register_orgs(issues)
        head = len(await issues.events())
        tasks = start_followers(scoring)
        try:
            for _ in range(200):
                if not any(x.behind for x in await read_lag(scoring.rt)):
                    break
                await asyncio.sleep(0.05)
            r = await scoring.client.post("/v1/rankings", json=PUBLISH, headers=scoring.auth(roles="admin"))
        finally:
            await stop(tasks)
        assert r.status_code == 201, r.text
        body = r.json()
        positions = [{"feed": "issues", "partition": None, "position": head},
                     {"feed": "verification", "partition": None, "position": 0}]
        assert body["positions"] == positions
        assert sorted(row["org_id"] for row in body["rows"]) == ["wuchuan", "xincheng"]
        assert (await scoring.client.get(f"/v1/rankings/{body['id']}", headers=scoring.auth(roles="auditor"))
                ).json()["positions"] == positions
        [event] = [e for e in await scoring.events() if e["type"] == "ranking.published"]
        assert event["data"]["positions"] == positions

        # the audit replay recomputes the same table from the exported logs alone
        out = tmp_path / "export"
        services = {"issues": issues, "verification": ver, "scoring": scoring}
        await export_http(out, {n: f"http://{n}" for n in services},
                          token=issues.auth(sub="auditor", roles="auditor")["Authorization"].split(" ", 1)[1],
                          transport={n: s.client._transport for n, s in services.items()})
        result = await replay_export(out)
        assert result.ok, (result.projections.anomalies, result.handler_failures, result.score_anomalies)
        assert result.scores is not None and result.scores["rankings_checked"] == 1


async def test_publishing_waits_briefly_for_scoring_to_catch_up(tmp_path: Path) -> None:
    async with three(tmp_path, wait=10.0) as (issues, _, scoring):
        await register_orgs(issues)
        head = len(await issues.events())
        tasks = start_followers(scoring)  # scoring starts reading only now: the request waits for it
        try:
            r = await scoring.client.post("/v1/rankings", json=PUBLISH, headers=scoring.auth(roles="admin"))
        finally:
            await stop(tasks)
        assert r.status_code == 201, r.text
        assert r.json()["positions"][0] == {"feed": "issues", "partition": None, "position": head}
        assert len(r.json()["rows"]) == 2


async def test_a_peer_that_does_not_answer_counts_as_behind(tmp_path: Path) -> None:
    async with running("scoring", tmp_path, follow=True, background=False, ranking_catch_up_seconds=0.2,
                       issues_url=f"http://127.0.0.1:{_free_port()}",
                       verification_url=f"http://127.0.0.1:{_free_port()}") as scoring:
        r = await scoring.client.post("/v1/rankings", json=PUBLISH, headers=scoring.auth(roles="admin"))
        assert r.status_code == 409, r.text
        details = r.json()["error"]["details"]
        assert {d["field"] for d in details} == {"issues", "verification"}
        assert all(d["end"] is None and d["lag"] is None and "ConnectError" in d["message"] for d in details)
        assert await ranking_rows(scoring) == (0, 0)


@pytest.mark.fast
def test_a_ranking_published_before_positions_were_recorded_still_decodes() -> None:
    data: dict[str, Any] = json.loads(SAMPLE.read_text(encoding="utf-8"))["data"]
    assert data["positions"], "the golden sample shows the positions"
    old = {k: v for k, v in data.items() if k != "positions"}
    assert parse_data("ranking.published", 1, old).positions is None
    assert parse_data("ranking.published", 1, data).positions[0].feed == "issues"
