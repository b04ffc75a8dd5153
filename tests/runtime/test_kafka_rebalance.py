"""A consumer group rebalance on the real broker: a second follower joins the group while the first is in the middle
of a batch, so that partitions the first had fetched are taken from it before it is done, and later leaves again.
Neither follower is torn down (`IllegalStateError: Partition … is not assigned` used to end the first one's consumer
when it committed a partition it no longer owned), no event is lost, none is applied twice (inbox), and every
partition's committed offset reaches its end."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import func, select
from sqlmodel import col
from structlog.testing import capture_logs

import runtime.bus.kafka as kafka_bus
from runtime.bus.kafka import KafkaFollower, KafkaPublisher
from runtime.consumer import Consumer, Outcome
from runtime.models import InboxRow
from services.scoring.app import SPEC as SCORING
from services.scoring.store import OrgFact
from tests.runtime.test_kafka import _org, _row, _scoring, _topic
from tests.support import EventFactory

pytestmark = pytest.mark.kafka

PARTITIONS = 6


class GatedConsumer(Consumer):
    """Stops at a gate at the start of every batch until the test opens it: a batch still being handled while the
    group rebalances."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()

    async def process_many(self, raws: Sequence[str | bytes | dict[str, Any]], *, origins: Sequence[str],
                           before: Any = None, feed: str | None = None,
                           positions: Sequence[int] | None = None) -> list[Outcome]:
        self.entered.set()
        await self.gate.wait()
        return await super().process_many(raws, origins=origins, before=before, feed=feed, positions=positions)


class Fetches(AIOKafkaConsumer):  # type: ignore[misc]  # aiokafka ships no type information
    """The real consumer, remembering which partitions each `getmany` handed to its follower."""

    seen: ClassVar[dict[int, list[set[TopicPartition]]]] = {}

    async def getmany(self, *partitions: TopicPartition, timeout_ms: int = 0,
                      max_records: int | None = None) -> dict[TopicPartition, list[Any]]:
        batches: dict[TopicPartition, list[Any]] = await super().getmany(*partitions, timeout_ms=timeout_ms,
                                                                          max_records=max_records)
        if batches:
            Fetches.seen.setdefault(id(self), []).append(set(batches))
        return batches


async def _offsets(bootstrap: str, topic: str, group: str) -> tuple[dict[int, int], dict[int, int]]:
    """The end offset and the group's committed offset of every partition."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await reader.start()
    await admin.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        ends = {tp.partition: int(o) for tp, o in (await reader.end_offsets(tps)).items()}
        committed = {tp.partition: int(m.offset) for tp, m in (await admin.list_consumer_group_offsets(group)).items()
                     if tp.topic == topic and m.offset >= 0}
    finally:
        await admin.close()
        await reader.stop()
    return ends, committed


async def _until(probe: Any, what: str, timeout: float = 60) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (value := await probe()):
        assert loop.time() < deadline, what
        await asyncio.sleep(0.1)
    return value


async def test_partitions_taken_from_a_follower_in_the_middle_of_a_batch_end_no_consumer_and_lose_nothing(
        kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka_bus, "AIOKafkaConsumer", Fetches)
    topic = await _topic(kafka_bootstrap, partitions=PARTITIONS)
    group = f"rebalance-{uuid.uuid4().hex[:8]}"
    factory = EventFactory("issues")
    events = [_org(factory, f"org-{n}", f"单位{n}") for n in range(90)]
    publisher = KafkaPublisher(kafka_bootstrap, client_id="test-rebalance")
    try:
        await publisher.send_rows(topic, [_row(e) for e in events[:60]])
        ends, _ = await _offsets(kafka_bootstrap, topic, group)
        assert all(ends[p] > 0 for p in range(PARTITIONS)), f"a partition got no event: {ends}"
        async with _scoring(tmp_path) as rt:
            gated = GatedConsumer(name="scoring", service="scoring", sessions=rt.sessions, handlers=SCORING.handlers,
                                  clock=rt.clock)
            first = KafkaFollower(gated, bootstrap=kafka_bootstrap, topics=[topic], group=group, publisher=publisher)
            second = KafkaFollower(Consumer(name="scoring", service="scoring", sessions=rt.sessions,
                                            handlers=SCORING.handlers, clock=rt.clock),
                                   bootstrap=kafka_bootstrap, topics=[topic], group=group, publisher=publisher)

            async def handled() -> int:
                async with rt.read() as session:
                    return int((await session.execute(select(func.count()).select_from(InboxRow))).scalar_one())

            with capture_logs() as logged:
                running = [asyncio.create_task(first.run())]
                try:
                    await asyncio.wait_for(gated.entered.wait(), 60)  # the first batch is being handled: held
                    assert first.kafka is not None
                    [fetched] = Fetches.seen[id(first.kafka)]
                    running.append(asyncio.create_task(second.run()))

                    async def rebalanced() -> bool:
                        return bool(second.kafka and second.kafka.assignment() and first.kafka
                                    and len(first.kafka.assignment()) < PARTITIONS)

                    await _until(rebalanced, "the second follower was given no partition")
                    taken = fetched - first.kafka.assignment()
                    assert taken, (f"the rebalance took none of the partitions the first follower had fetched "
                                   f"({sorted(tp.partition for tp in fetched)}): the test would prove nothing")
                    gated.gate.set()  # the first follower finishes the batches it fetched before the rebalance
                    await _until(lambda: _at(handled, 60), "the first 60 events were not all handled")
                    second_task = running.pop()
                    second_task.cancel()  # leaves the group: its partitions go back to the first
                    await asyncio.gather(second_task, return_exceptions=True)
                    await publisher.send_rows(topic, [_row(e) for e in events[60:]])
                    await _until(lambda: _at(handled, len(events)), "the last events were not all handled")

                    async def all_committed() -> bool:
                        ends, committed = await _offsets(kafka_bootstrap, topic, group)
                        return committed == ends

                    await _until(all_committed, "a partition's committed offset did not reach its end")
                finally:
                    for task in running:
                        task.cancel()
                    await asyncio.gather(*running, return_exceptions=True)
            async with rt.read() as session:
                orgs = (await session.execute(select(col(OrgFact.id)))).scalars().all()
                inbox = (await session.execute(select(col(InboxRow.event_id)))).scalars().all()
    finally:
        await publisher.stop()
    assigned = [e for e in logged if e.get("event") == "kafka_partitions_assigned"]
    assert len(assigned) >= 3, f"the logs of the rebalances were not captured (is logging filtered?): {logged[:5]}"
    restarts = [e for e in logged if e.get("event") == "kafka_consumer_restart"]
    assert restarts == [], f"a follower was torn down by the rebalance: {restarts}"
    assert sorted(orgs) == sorted(f"org-{n}" for n in range(len(events)))
    assert sorted(inbox) == sorted(str(e.id) for e in events), "each event handled exactly once"


async def _at(handled: Any, count: int) -> bool:
    return bool(await handled() >= count)
