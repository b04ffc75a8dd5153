"""Crash safety: a service killed with SIGKILL after committing, before its relay sent the event,
delivers that event after restart, and every consumer counts it once."""

from __future__ import annotations

import asyncio
import re
import uuid

import httpx
import pytest
from sqlalchemy import select, update

from contracts import Actor
from runtime.clock import Clock
from runtime.db import make_engine, make_sessionmaker
from runtime.models import LogState, OutboxRow
from runtime.outbox import UnitOfWork
from services.issues import handlers as issue_handlers
from tests.e2e.cluster import Cluster, eventually
from tests.e2e.flow import register_issue, setup_orgs

pytestmark = pytest.mark.e2e


def issues_db(c: Cluster) -> str:
    return c.databases.get("issues") or f"sqlite+aiosqlite:///{c.data_dir / 'issues.db'}"


async def assignment_notices(c: Cluster, client: httpx.AsyncClient) -> dict[str, int]:
    r = await client.get(f"{c.url('notify')}/v1/inbox", params={"limit": 500},
                         headers=c.auth(org="city-eeb", roles="responsible"))
    counts: dict[str, int] = {}
    for item in r.json()["items"]:
        if item["type"] == "issue.assigned":
            counts[item["subject"]] = counts.get(item["subject"], 0) + 1
    return counts


async def consumed(c: Cluster, client: httpx.AsyncClient, service: str, outcome: str) -> float:
    text = (await client.get(f"{c.url(service)}/metrics")).text
    pattern = rf'closeloop_events_consumed_total{{consumer="{service}",outcome="{outcome}"}} ([0-9.e+]+)'
    return sum(float(m) for m in re.findall(pattern, text))


async def commit_without_relay(c: Cluster, code: str) -> str:
    """Commit a registration in the issues database exactly as the service does, with no relay running:
    the state a SIGKILL leaves right after the commit."""
    engine = make_engine(issues_db(c))
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as session, session.begin():
            uow = UnitOfWork(session=session, service="issues",
                             actor=Actor(org="inspection-office", user="admin", role="admin"),
                             correlation_id=str(uuid.uuid4()), causation_id=None, clock=Clock())
            issue = await issue_handlers.register_issue(uow, fields={
                "code": code, "round_id": "nm-2019-inspection", "category": "water", "title": "崩溃后补发的整改任务",
                "responsible_org_id": "city-eeb", "cooperating_org_ids": [], "supervising_org_id": "inspection-office",
                "deadline": "2020-12-31"})
        return issue.id
    finally:
        await engine.dispose()


async def rewind_publication(c: Cluster, issue_id: str) -> None:
    """Mark the issue's event as not yet sent although the bus has it: the relay crashed between send and mark."""
    engine = make_engine(issues_db(c))
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as session, session.begin():
            row = (await session.execute(select(OutboxRow).where(OutboxRow.subject == issue_id))).scalars().first()
            assert row is not None and row.position is not None
            await session.execute(update(LogState).where(LogState.id == 1).values(published=row.position - 1))
    finally:
        await engine.dispose()


async def crash_and_recover(c: Cluster) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        await setup_orgs(c, client)
        delivered = await register_issue(c, client, code="HH-CRASH-1")
        await eventually(lambda: _has(c, client, delivered))

        c.kill("issues")  # SIGKILL
        pending = await commit_without_relay(c, "HH-CRASH-2")
        if c.bus == "kafka":
            await rewind_publication(c, delivered)  # sent, but not recorded as sent: it will be sent again
        c.start("issues")
        await c.wait_ready(("issues",))

        await eventually(lambda: _has(c, client, pending))
        r = await client.get(f"{c.url('issues')}/v1/issues/{pending}", headers=c.auth(roles="admin"))
        assert r.status_code == 200 and r.json()["code"] == "HH-CRASH-2"
        await asyncio.sleep(1.0)  # let any redelivery land before counting
        counts = await assignment_notices(c, client)
        assert counts[delivered] == 1 and counts[pending] == 1
        if c.bus == "kafka":
            assert await consumed(c, client, "notify", "duplicate") >= 1, "the re-sent event was not seen again"


async def _has(c: Cluster, client: httpx.AsyncClient, issue_id: str) -> bool:
    return issue_id in await assignment_notices(c, client)


async def test_embedded_event_committed_before_a_sigkill_is_delivered_once_after_restart(
        embedded_cluster: Cluster) -> None:
    await crash_and_recover(embedded_cluster)


@pytest.mark.kafka
@pytest.mark.postgres
async def test_kafka_event_committed_or_resent_around_a_sigkill_is_counted_once(kafka_cluster: Cluster) -> None:
    await crash_and_recover(kafka_cluster)


@pytest.mark.kafka
@pytest.mark.postgres
async def test_sigkill_under_load_loses_no_accepted_write_and_duplicates_nothing(kafka_cluster: Cluster) -> None:
    c = kafka_cluster
    async with httpx.AsyncClient(timeout=30) as client:
        await setup_orgs(c, client)
        accepted: list[str] = []

        async def one(i: int) -> None:
            try:
                accepted.append(await register_issue(c, client, code=f"HH-LOAD-{i:03d}"))
            except (httpx.HTTPError, AssertionError):
                pass  # in flight when the process died: may or may not have committed

        tasks = [asyncio.create_task(one(i)) for i in range(40)]
        while len(accepted) < 10:
            await asyncio.sleep(0.01)
        c.kill("issues")
        await asyncio.gather(*tasks)
        c.start("issues")
        await c.wait_ready(("issues",))

        admin = c.auth(roles="admin")
        r = await client.get(f"{c.url('issues')}/v1/issues", params={"limit": 500}, headers=admin)
        committed = {i["id"] for i in r.json()["items"]}
        assert set(accepted) <= committed, "an issue answered 201 was lost"

        async def all_notified() -> bool:
            return set((await assignment_notices(c, client)).keys()) >= committed

        await eventually(all_notified)
        counts = await assignment_notices(c, client)
        assert all(counts[i] == 1 for i in committed)
