"""The scoring service on real PostgreSQL: the same events give the same scores and rankings as on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scoring.test_api import NOW, deliver_all, streams
from tests.support import fixed_clock, running

pytestmark = pytest.mark.postgres


async def test_scores_and_ranking_on_postgresql_match_sqlite(tmp_path: Path, pg_url: str) -> None:
    issues, verification = streams()
    tables = []
    for name, overrides in (("sqlite", {}), ("pg", {"database_url": pg_url})):
        async with running("scoring", tmp_path / name, clock=fixed_clock(NOW), **overrides) as s:
            await deliver_all(s, verification + issues)
            admin = s.auth(roles="admin")
            r = await s.client.get("/v1/scores", params={"period": "2020-H1", "kind": "region"}, headers=admin)
            assert r.status_code == 200, r.text
            first = await s.client.post("/v1/rankings", headers=admin, json={"period": "2020-06", "kind": "region"})
            second = await s.client.post("/v1/rankings", headers=admin, json={"period": "2020-06", "kind": "region"})
            assert second.json()["supersedes"] == first.json()["id"]
            tables.append((r.json()["items"], first.json()["rows"], first.json()["bottom_named"]))
    assert tables[0] == tables[1]
