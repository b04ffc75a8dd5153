"""SQLite: a long write transaction does not hold reads up (WAL snapshot reads, IMMEDIATE only for writers)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from runtime.auth import Principal
from runtime.models import DeadLetter
from tests.support import running

WRITER = Principal(sub="tester", org="inspection-office", roles=frozenset({"admin"}))


async def test_reads_answer_while_a_write_transaction_is_open(tmp_path: Path) -> None:
    async with running("scoring", tmp_path) as s:
        holding, release = asyncio.Event(), asyncio.Event()

        async def long_write() -> None:
            async with s.rt.unit_of_work(WRITER, role="admin") as uow:
                uow.session.add(DeadLetter(consumer="scoring", origin="test", error="held open", payload="{}",
                                           created_at=datetime.now(UTC)))
                await uow.session.flush()  # the write lock is taken here
                holding.set()
                await release.wait()

        writer = asyncio.create_task(long_write())
        await asyncio.wait_for(holding.wait(), 5)
        try:
            started = time.perf_counter()
            listed = await asyncio.wait_for(s.client.get("/v1/readings", headers=s.auth(roles="auditor")), 5)
            ready = await asyncio.wait_for(s.client.get("/readyz"), 5)
            letters = await asyncio.wait_for(s.client.get("/v1/dead-letters", headers=s.auth(roles="auditor")), 5)
            elapsed = time.perf_counter() - started
        finally:
            release.set()
            await writer
        assert listed.status_code == 200, listed.text
        assert ready.json()["checks"]["database"] == "ok", ready.text
        # the reader saw the snapshot before the writer's uncommitted row
        assert letters.status_code == 200 and letters.json()["items"] == [], letters.text
        assert elapsed < 2, f"reads waited {elapsed:.1f}s for the writer"
        after = await s.client.get("/v1/dead-letters", headers=s.auth(roles="auditor"))
        assert [d["error"] for d in after.json()["items"]] == ["held open"]


async def test_read_sessions_refuse_to_write(tmp_path: Path) -> None:
    async with running("scoring", tmp_path) as s:
        async with s.rt.read() as session:
            with pytest.raises(OperationalError, match="readonly"):
                await session.execute(text("DELETE FROM dead_letter"))


async def test_a_big_batch_of_readings_is_refused_before_it_is_read(tmp_path: Path) -> None:
    async with running("scoring", tmp_path) as s:
        one = {"org_id": "xincheng", "indicator": "pm25", "value": 1, "observed_at": "2020-01-01T00:00:00+08:00"}
        started = time.perf_counter()
        r = await s.client.post("/v1/readings", json=[one] * 1001, headers=s.auth())
        assert r.status_code == 422, r.text
        detail = r.json()["error"]["details"][0]
        assert detail["field"] == "body" and "1000" in detail["message"], detail
        empty = await s.client.post("/v1/readings", json=[], headers=s.auth())
        assert empty.status_code == 422 and empty.json()["error"]["details"][0]["field"] == "body"
        assert time.perf_counter() - started < 5
        body = s.app.openapi()["paths"]["/v1/readings"]["post"]["requestBody"]["content"]["application/json"]
        batch = [alt for alt in body["schema"]["anyOf"] if alt.get("type") == "array"]
        assert batch and batch[0]["maxItems"] == 1000 and batch[0]["minItems"] == 1, body
