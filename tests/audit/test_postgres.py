"""On PostgreSQL: the relay signs checkpoints in its transaction, and an export of the log verifies."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from audit.export import export_http
from audit.verify import verify_export
from runtime.checkpoints import new_key_text
from tests.support import fixed_clock, running

pytestmark = pytest.mark.postgres


async def test_checkpoints_signed_on_postgres_verify_after_export(pg_url: str, tmp_path: Path) -> None:
    clock = fixed_clock("2020-06-01T01:00:00+00:00")
    async with running("issues", tmp_path, clock=clock, database_url=pg_url, checkpoint_key=new_key_text()) as s:
        admin = s.auth(org="inspection-office", roles="admin")
        for i in range(5):
            r = await s.client.post("/v1/orgs", json={"id": f"o{i}", "name": f"单位{i}", "kind": "region"},
                                    headers=admin)
            assert r.status_code == 201, r.text
            await s.events()
            clock.advance(timedelta(seconds=1))
        token = s.auth(roles="auditor")["Authorization"].split(" ", 1)[1]
        out = tmp_path / "export"
        manifest = await export_http(out, {"issues": "http://issues"}, token=token,
                                     transport={"issues": httpx.ASGITransport(app=s.app)})
    info = manifest["services"]["issues"]
    assert (info["events"], info["checkpoints"]) == (5, 5)
    [result] = verify_export(out)
    assert result.ok and result.signed_size == 5, result.problems
