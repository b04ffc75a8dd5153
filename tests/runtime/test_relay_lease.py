"""Two replicas of a service on one PostgreSQL database: one relay sequences, signs and publishes at a time.

Both replicas take writes; only the lease holder's relay runs, the other stands by. Every event reaches the
topic once, in log order, and the checkpoints are one series over one log; when the holder stops, or its
session dies, the other takes over and nothing is lost.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import select
from sqlmodel import col

from contracts import GENESIS_HASH, topic_for
from contracts.enums import OrgKind
from contracts.events.issues import OrgRegistered
from runtime.bootstrap import Runtime, start_runtime
from runtime.checkpoints import signature_ok, signing_key
from runtime.lease import AdvisoryLease
from runtime.models import Checkpoint, LogState, OutboxRow
from runtime.outbox import chain
from services.issues.app import SPEC as ISSUES
from tests.conftest import pg_admin_dsn
from tests.fast.helpers import ADMIN
from tests.support import settings_for

pytestmark = [pytest.mark.postgres, pytest.mark.kafka]


@asynccontextmanager
async def replica(tmp: Path, db: str, bootstrap: str, prefix: str) -> AsyncIterator[Runtime]:
    settings = settings_for("issues", tmp, database_url=db, bus="kafka", kafka_bootstrap=bootstrap,
                            kafka_prefix=prefix)
    async with start_runtime(ISSUES, settings, follow=False) as rt:
        yield rt


async def write(rt: Runtime, tag: str, n: int) -> list[str]:
    ids = []
    for i in range(n):
        async with rt.unit_of_work(ADMIN) as uow:
            env = await uow.emit(f"org-{tag}-{i}", OrgRegistered(org_id=f"org-{tag}-{i}", name=f"单位{i}",
                                                                 kind=OrgKind.region))
        ids.append(str(env.id))
    return ids


async def settled(rt: Runtime, total: int, timeout: float = 30) -> LogState:
    """Wait until the log has `total` events, all published and the newest signed."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with rt.sessions() as session:
            state = (await session.execute(select(LogState))).scalar_one_or_none()
            signed = (await session.execute(select(Checkpoint.size).order_by(col(Checkpoint.size).desc())
                                            .limit(1))).scalar_one_or_none()
        if state is not None and state.position == total and state.published == total and signed == total:
            return state
        assert asyncio.get_running_loop().time() < deadline, (state, signed)
        await asyncio.sleep(0.1)


async def topic_ids(bootstrap: str, topic: str, count: int, timeout: float = 20) -> list[tuple[int, int, str]]:
    """(partition, offset, event id) of the topic's messages, read until `count` arrived and 1 s passed quietly."""
    reader = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                              enable_auto_commit=False, group_id=None)
    await reader.start()
    got: list[tuple[int, int, str]] = []
    try:
        loop = asyncio.get_running_loop()
        deadline, quiet = loop.time() + timeout, 0
        while loop.time() < deadline and (len(got) < count or quiet < 2):
            batches = await reader.getmany(timeout_ms=500)
            quiet = 0 if batches else quiet + 1
            for tp, messages in batches.items():
                got.extend((tp.partition, m.offset, json.loads(m.value)["id"]) for m in messages)
    finally:
        await reader.stop()
    return got


async def assert_one_log(rt: Runtime, written: list[str], bootstrap: str, topic: str) -> None:
    """Positions 1..n, one running hash, every checkpoint on it and signed; each event on the topic once, in
    log order within its partition."""
    async with rt.sessions() as session:
        rows = (await session.execute(select(OutboxRow).order_by(col(OutboxRow.position)))).scalars().all()
        checkpoints = (await session.execute(select(Checkpoint).order_by(col(Checkpoint.id)))).scalars().all()
    assert [r.position for r in rows] == list(range(1, len(written) + 1))
    assert sorted(r.event_id for r in rows) == sorted(written)
    running, at = GENESIS_HASH, {}
    for r in rows:
        running = chain(running, json.loads(r.envelope)["hash"])
        assert r.log_hash == running
        at[r.position] = running
    sizes = [c.size for c in checkpoints]
    assert sizes == sorted(set(sizes)), "checkpoints are one increasing series"
    key = signing_key(service="issues", configured=rt.settings.checkpoint_key or None, db_url=rt.engine.url,
                      data_dir=rt.settings.data_dir)
    for c in checkpoints:
        assert c.root == at[c.size]
        assert signature_ok(key.public_key(), service="issues", size=c.size, root=c.root,
                            time=c.time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), signature=c.signature)
    on_topic = await topic_ids(bootstrap, topic, len(rows))
    ids = [e for _, _, e in on_topic]
    assert len(ids) == len(set(ids)) == len(rows), "every event published once"
    position = {r.event_id: r.position for r in rows}
    for partition in {p for p, _, _ in on_topic}:
        mine = [position[e] for p, _, e in sorted(on_topic) if p == partition]
        assert mine == sorted(mine), f"partition {partition} is in log order"


async def _topic(bootstrap: str, name: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()


def leaders(*rts: Runtime) -> list[bool]:
    return [isinstance(rt.relay.lease, AdvisoryLease) and rt.relay.lease.held for rt in rts]


async def wait_leader(*rts: Runtime, timeout: float = 10) -> int:
    deadline = asyncio.get_running_loop().time() + timeout
    while sum(leaders(*rts)) != 1:
        assert asyncio.get_running_loop().time() < deadline, leaders(*rts)
        await asyncio.sleep(0.05)
    return leaders(*rts).index(True)


async def test_two_replicas_relay_through_one_lease_and_the_other_takes_over_when_the_holder_stops(
        pg_url: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    prefix = f"lease{uuid.uuid4().hex[:8]}."
    topic = prefix + topic_for("issues")
    await _topic(kafka_bootstrap, topic)
    stacks = [AsyncExitStack(), AsyncExitStack()]
    try:
        rts = [await st.enter_async_context(replica(tmp_path, pg_url, kafka_bootstrap, prefix)) for st in stacks]
        first = await wait_leader(*rts)
        # both take writes at once; the standby's are relayed by the holder
        written = [x for ids in await asyncio.gather(write(rts[0], "a", 40), write(rts[1], "b", 40)) for x in ids]
        await settled(rts[0], len(written))
        assert leaders(*rts).index(True) == first, "the lease stayed with its holder"
        assert rts[1 - first].relay.standby
        await assert_one_log(rts[0], written, kafka_bootstrap, topic)

        await stacks[first].aclose()  # the holder stops: it releases the lease
        survivor = rts[1 - first]
        await wait_leader(survivor)
        written += await write(survivor, "c", 30)
        await settled(survivor, len(written))
        await assert_one_log(survivor, written, kafka_bootstrap, topic)
    finally:
        for st in stacks:
            await st.aclose()


async def test_when_the_holders_session_dies_the_other_replica_takes_over(
        pg_url: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    prefix = f"lease{uuid.uuid4().hex[:8]}."
    topic = prefix + topic_for("issues")
    await _topic(kafka_bootstrap, topic)
    async with replica(tmp_path, pg_url, kafka_bootstrap, prefix) as a, \
            replica(tmp_path, pg_url, kafka_bootstrap, prefix) as b:
        first = await wait_leader(a, b)
        holder, other = (a, b)[first], (a, b)[1 - first]
        written = await write(holder, "x", 20)
        await settled(holder, len(written))
        # the holder's session is killed, as when its process dies or its connection is cut
        lease = holder.relay.lease
        assert isinstance(lease, AdvisoryLease) and lease.conn is not None
        raw: Any = await lease.conn.get_raw_connection()
        pid = raw.driver_connection.get_server_pid()
        admin = await asyncpg.connect(pg_admin_dsn())
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        deadline = asyncio.get_running_loop().time() + 10
        while not (isinstance(other.relay.lease, AdvisoryLease) and other.relay.lease.held):
            assert asyncio.get_running_loop().time() < deadline, "the standby did not take over"
            await asyncio.sleep(0.05)
        # the old holder found its session gone and stands by; both still take writes
        written += [x for ids in await asyncio.gather(write(holder, "y", 15), write(other, "z", 15)) for x in ids]
        await settled(other, len(written))
        assert leaders(holder, other) == [False, True]
        await assert_one_log(other, written, kafka_bootstrap, topic)
