"""Dead letters hold only what is wrong with an event, never an outage: a database outage longer than the handler's
retry budget is waited out (nothing lost, nothing dead-lettered); a content error is dead-lettered with its row
committed before the consumer moves on; a redrive hands the stored event to the consumer again, once.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from structlog.testing import capture_logs

from contracts.events.issues import IssueRegistered
from runtime.consumer import Poison, is_infrastructure
from runtime.errors import is_database_outage
from runtime.models import DeadLetter, InboxRow
from services.scoring.store import IssueFact
from tests.runtime.test_database_outage import TcpRelay
from tests.support import EventFactory, running

ISSUE = {
    "issue_id": "i-1", "code": "HH-1", "round_id": "r", "category": "air", "title": "扬尘治理",
    "responsible_org_id": "city-eeb", "supervising_org_id": "inspection-office", "deadline": "2020-12-31",
}


async def _count(rt: Any, model: Any) -> int:
    async with rt.read() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


@pytest.mark.fast
def test_outages_are_told_from_content_errors() -> None:
    locked = OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    assert is_infrastructure(locked)
    assert is_infrastructure(ConnectionRefusedError(111, "connection refused"))
    assert is_infrastructure(TimeoutError())
    try:
        try:
            raise ConnectionResetError("cut")
        except ConnectionResetError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as wrapped:
        assert is_infrastructure(wrapped), "an outage raised from inside a handler is still an outage"
    assert not is_infrastructure(IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not is_infrastructure(Poison("bad hash"))
    assert not is_infrastructure(ValueError("a handler bug"))
    assert not is_infrastructure(KeyError("org"))


@pytest.mark.fast
def test_a_missing_table_is_a_fault_of_the_code_not_an_outage() -> None:
    """SQLite raises the same OperationalError for "no such table" as for a locked file: only the lock is an outage
    (retried until it is over); a table or column that does not exist is never fixed by waiting."""
    locked = OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    assert is_infrastructure(locked) and is_database_outage(locked)
    for message in ("no such table: scoring_org", "no such column: org.zone", "near \"SELEC\": syntax error",
                    "table scoring_org has no column named zone"):
        fault = OperationalError("SELECT", {}, sqlite3.OperationalError(message))
        assert not is_infrastructure(fault), message
        assert not is_database_outage(fault), message
        try:
            try:
                raise fault
            except OperationalError as exc:
                raise RuntimeError("in a handler") from exc
        except RuntimeError as wrapped:
            assert not is_infrastructure(wrapped), message


async def test_an_event_whose_table_is_missing_is_dead_lettered_and_a_request_answers_500_not_503(
        tmp_path: Path) -> None:
    async with running("scoring", tmp_path, handler_attempts=2) as s:
        async with s.rt.sessions() as session, session.begin():
            await session.execute(text("DROP TABLE scoring_org"))
            await session.execute(text("DROP TABLE scoring_reading"))
        env = EventFactory("issues").make("org.registered", "org-1", {"org_id": "org-1", "name": "单位", "kind": "region"})
        with capture_logs() as logged:
            assert await asyncio.wait_for(s.deliver(env), 30) == "dead", "retried as if the database were down"
        assert not [e for e in logged if e.get("event") == "infrastructure_unavailable"], logged
        [letter] = (await s.client.get("/v1/dead-letters", headers=s.auth(roles="admin"))).json()["items"]
        assert "no such table" in letter["error"]
        transport = httpx.ASGITransport(app=s.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            r = await client.get("/v1/readings", headers=s.auth(roles="auditor"))
        assert r.status_code == 500, (r.status_code, r.text)
        assert "closeloop_database_unavailable_total 0.0" in (await s.client.get("/metrics")).text


@pytest.mark.postgres
async def test_a_database_outage_longer_than_the_retry_budget_loses_and_dead_letters_nothing(
        tmp_path: Path, pg_url: str) -> None:
    parts = urlsplit(pg_url)
    relay = TcpRelay(parts.hostname or "127.0.0.1", parts.port or 5432)
    await relay.start()
    via_relay = pg_url.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{relay.port}")
    f = EventFactory("issues")
    events = [f.make("issue.registered", f"i-{n}", {**ISSUE, "issue_id": f"i-{n}", "code": f"HH-{n}"})
              for n in range(3)]
    # the old budget: 4 attempts, 0.1 s doubling = 0.7 s; the outage lasts 4 s
    async with running("scoring", tmp_path, database_url=via_relay, handler_attempts=4) as s:
        consumer = s.rt.consumer
        assert consumer is not None
        assert await s.deliver(events[0]) == "handled"
        await relay.cut()
        loop = asyncio.get_running_loop()
        started = loop.time()
        pending = asyncio.create_task(consumer.process(events[1].to_json(), origin="test"))
        await asyncio.sleep(4)
        assert not pending.done(), f"the event was given up during the outage: {pending.result()}"
        await relay.restore()
        outcome = await asyncio.wait_for(pending, 30)
        assert outcome.status == "handled", outcome
        assert loop.time() - started >= 4
        assert await s.deliver(events[2]) == "handled"
        assert await _count(s.rt, DeadLetter) == 0
        assert await _count(s.rt, IssueFact) == 3 and await _count(s.rt, InboxRow) == 3
        metrics = (await s.client.get("/metrics")).text
        retries = [line for line in metrics.splitlines()
                   if line.startswith("closeloop_consumer_retries_total") and 'kind="infrastructure"' in line]
        assert retries and float(retries[0].split()[-1]) >= 3, metrics
    await relay.cut()


async def test_a_content_error_is_dead_lettered_with_its_row_committed_before_the_consumer_moves_on(
        tmp_path: Path) -> None:
    async with running("scoring", tmp_path, handler_attempts=2) as s:
        consumer = s.rt.consumer
        assert consumer is not None

        async def broken(uow: Any, envelope: Any, payload: Any) -> None:
            raise ValueError("a handler bug")

        real = consumer.handlers
        consumer.handlers = real.replacing(IssueRegistered, broken)
        rows_when_copied: list[int] = []

        async def sink(record: dict[str, Any]) -> None:  # the dead-letter topic's copy comes after the row
            rows_when_copied.append(await _count(s.rt, DeadLetter))

        consumer.dead_letter_sink = sink
        env = EventFactory("issues").make("issue.registered", "i-1", ISSUE)
        outcome = await consumer.process(env.to_json(), origin="test", feed="issues", position=7)
        assert outcome.status == "dead" and "a handler bug" in (outcome.error or "")
        assert rows_when_copied == [1]
        assert await consumer.cursor("issues") == 7, "the cursor moved with the dead letter's row"

        # redrive with the handler fixed: applied once; redriving again changes nothing
        consumer.handlers = real
        admin = s.auth(roles="admin")
        [letter] = (await s.client.get("/v1/dead-letters", headers=admin)).json()["items"]
        assert letter["redriven_at"] is None
        r = await s.client.post(f"/v1/dead-letters/{letter['id']}/redrive", headers=admin)
        assert r.status_code == 200, r.text
        assert r.json()["redrive_outcome"] == "handled" and r.json()["redriven_at"]
        again = await s.client.post(f"/v1/dead-letters/{letter['id']}/redrive", headers=admin)
        assert again.json() == r.json()
        assert (await s.client.post("/v1/dead-letters/redrive", headers=admin)).json() == {"items": []}
        assert await _count(s.rt, IssueFact) == 1 and await _count(s.rt, InboxRow) == 1
        assert (await s.client.post("/v1/dead-letters/99/redrive", headers=admin)).status_code == 404
        assert (await s.client.post("/v1/dead-letters/redrive", headers=s.auth(roles="auditor"))).status_code == 403


async def test_redriving_an_event_handled_meanwhile_does_not_apply_it_twice(tmp_path: Path) -> None:
    async with running("scoring", tmp_path, handler_attempts=1) as s:
        consumer = s.rt.consumer
        assert consumer is not None
        real = consumer.handlers

        async def broken(uow: Any, envelope: Any, payload: Any) -> None:
            raise ValueError("a handler bug")

        consumer.handlers = real.replacing(IssueRegistered, broken)
        env = EventFactory("issues").make("issue.registered", "i-1", ISSUE)
        assert await s.deliver(env) == "dead"
        consumer.handlers = real
        assert await s.deliver(env) == "handled"  # e.g. redelivered by the broker after a fix
        r = await s.client.post("/v1/dead-letters/redrive", headers=s.auth(roles="admin"))
        assert [i["redrive_outcome"] for i in r.json()["items"]] == ["duplicate"]
        assert await _count(s.rt, IssueFact) == 1


async def test_a_dead_letter_whose_row_cannot_be_written_is_retried_not_skipped(tmp_path: Path) -> None:
    async with running("scoring", tmp_path, handler_attempts=1) as s:
        consumer = s.rt.consumer
        assert consumer is not None
        real_sessions = consumer.sessions
        failures = 0

        class Refusing:
            """Sessions whose first three dead-letter transactions fail as a locked database does."""

            def __call__(self) -> Any:
                nonlocal failures
                if failures < 3:
                    failures += 1
                    raise OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
                return real_sessions()

        consumer.backoff = 0.01
        consumer.sessions = Refusing()  # type: ignore[assignment]
        outcome = await consumer.process("{not json", origin="test", feed="issues", position=3)
        consumer.sessions = real_sessions
        assert outcome.status == "dead" and failures == 3
        assert await _count(s.rt, DeadLetter) == 1 and await consumer.cursor("issues") == 3
