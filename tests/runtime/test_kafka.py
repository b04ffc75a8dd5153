"""The Kafka adapter against the real broker: the publisher, the follower's commits, the relay's retries.

- the publisher sends outbox rows keyed by subject with an idempotent producer, and builds a new producer
  after a send error instead of reusing a broken one;
- the follower commits an offset only after the message was handled: a message whose handling failed is not
  committed, and the restarted consumer gets it again;
- the relay keeps rows whose send failed and sends them on its next try, marking them published only then.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError
from sqlalchemy import select
from sqlmodel import col

from contracts import Envelope, topic_for
from contracts.enums import OrgKind
from contracts.events.issues import OrgRegistered
from runtime.bootstrap import Runtime, start_runtime
from runtime.bus.kafka import KafkaFollower, KafkaPublisher
from runtime.consumer import Consumer, Outcome
from runtime.models import InboxRow, LogState, OutboxRow
from services.issues import handlers as issues_handlers
from services.issues.app import SPEC as ISSUES
from services.scoring.app import SPEC as SCORING
from services.scoring.store import OrgFact
from tests.fast.helpers import ADMIN
from tests.support import EventFactory, settings_for

pytestmark = pytest.mark.kafka


async def _topic(bootstrap: str, partitions: int) -> str:
    name = f"adapter-{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()
    return name


async def _read(bootstrap: str, topic: str, count: int, timeout: float = 20) -> list[Any]:
    """`count` messages of a topic from its beginning (every partition)."""
    reader = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                              enable_auto_commit=False, group_id=None)
    await reader.start()
    messages: list[Any] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(messages) < count and asyncio.get_running_loop().time() < deadline:
            for batch in (await reader.getmany(timeout_ms=500)).values():
                messages.extend(batch)
    finally:
        await reader.stop()
    return messages


def _row(envelope: Envelope) -> OutboxRow:
    return OutboxRow(event_id=str(envelope.id), type=envelope.type, subject=envelope.subject, seq=envelope.seq,
                     time=envelope.time, envelope=envelope.to_json())


def _org(factory: EventFactory, org_id: str, name: str) -> Envelope:
    return factory.make("org.registered", org_id, {"org_id": org_id, "name": name, "kind": "region"})


async def test_the_publisher_sends_keyed_by_subject_with_an_idempotent_producer(kafka_bootstrap: str) -> None:
    topic = await _topic(kafka_bootstrap, partitions=3)
    factory = EventFactory("issues")
    sent = [_org(factory, "saihan", "赛罕区"), _org(factory, "xincheng", "新城区"),
            factory.make("org.registered", "saihan", {"org_id": "saihan", "name": "赛罕区人民政府", "kind": "region"})]
    publisher = KafkaPublisher(kafka_bootstrap, client_id="test-publisher")
    try:
        await publisher.send_rows(topic, [_row(e) for e in sent])
        producer = publisher.producer
        assert producer is not None
        # Idempotence is on and the broker gave this producer an id (InitProducerId answered).
        assert producer._txn_manager is not None and producer._txn_manager.has_pid()
    finally:
        await publisher.stop()
    got = await _read(kafka_bootstrap, topic, 3)
    assert sorted((m.key.decode(), json.loads(m.value)["id"]) for m in got) == sorted(
        (e.subject, str(e.id)) for e in sent)
    saihan = [m for m in got if m.key == b"saihan"]
    assert len({m.partition for m in saihan}) == 1, "one subject's events share a partition"
    assert [json.loads(m.value)["seq"] for m in sorted(saihan, key=lambda m: m.offset)] == [1, 2]


async def test_the_publisher_builds_a_new_producer_after_a_send_error(kafka_bootstrap: str) -> None:
    topic = await _topic(kafka_bootstrap, partitions=1)
    factory = EventFactory("issues")
    good = _org(factory, "saihan", "赛罕区")
    too_big = _row(_org(factory, "huimin", "回民区"))
    too_big.envelope = json.dumps({"padding": "x" * (2 * 1024 * 1024)})  # over the producer's request limit
    publisher = KafkaPublisher(kafka_bootstrap, client_id="test-publisher-reset")
    try:
        await publisher.send_rows(topic, [_row(good)])
        first = publisher.producer
        with pytest.raises(MessageSizeTooLargeError):
            await publisher.send_rows(topic, [too_big])
        assert publisher.producer is None, "a producer that failed a send is dropped"
        after = _org(factory, "xincheng", "新城区")
        await publisher.send_rows(topic, [_row(after)])
        assert publisher.producer is not None and publisher.producer is not first
    finally:
        await publisher.stop()
    got = await _read(kafka_bootstrap, topic, 2)
    assert [json.loads(m.value)["id"] for m in got] == [str(good.id), str(after.id)]


class FlakyConsumer(Consumer):
    """The scoring consumer whose handling of one event fails once, as when its database is briefly gone."""

    def __init__(self, *, fail_once: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fail_once: str | None = fail_once
        self.failed = asyncio.Event()
        self.seen: list[tuple[str, str]] = []
        self.in_batch = False

    async def process(self, raw: str | bytes | dict[str, Any], *, origin: str, feed: str | None = None,
                      position: int | None = None, before: Any = None) -> Outcome:
        """Fail the chosen event's first delivery before anything is handled; the rest as usual."""
        event_id = json.loads(raw)["id"] if isinstance(raw, (str, bytes)) else raw["id"]
        if not self.in_batch:
            self.seen.append((event_id, origin))
        if event_id == self.fail_once:
            self.fail_once = None
            self.failed.set()
            raise RuntimeError("the database is unavailable")
        return await super().process(raw, origin=origin, feed=feed, position=position, before=before)

    async def process_many(self, raws: Sequence[str | bytes | dict[str, Any]], *, origins: Sequence[str],
                           before: Any = None) -> list[Outcome]:
        """The follower hands a partition's batch over at once: the chosen event fails it before anything is
        handled, as a database gone mid-batch would."""
        for raw, origin in zip(raws, origins, strict=True):
            event_id = json.loads(raw)["id"] if isinstance(raw, (str, bytes)) else raw["id"]
            self.seen.append((event_id, origin))
            if event_id == self.fail_once:
                self.fail_once = None
                self.failed.set()
                raise RuntimeError("the database is unavailable")
        self.in_batch = True  # a batch handled one by one after all is not counted twice
        try:
            return await super().process_many(raws, origins=origins, before=before)
        finally:
            self.in_batch = False


@asynccontextmanager
async def _scoring(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with start_runtime(SCORING, settings_for("scoring", tmp_path), follow=False, background=False) as rt:
        yield rt


async def _committed(bootstrap: str, group: str, tp: TopicPartition) -> int | None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    meta = offsets.get(tp)
    return None if meta is None or meta.offset < 0 else int(meta.offset)


async def test_the_follower_commits_only_handled_offsets_and_a_failed_message_comes_again(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = await _topic(kafka_bootstrap, partitions=1)
    tp = TopicPartition(topic, 0)
    group = f"adapter-group-{uuid.uuid4().hex[:8]}"
    factory = EventFactory("issues")
    events = [_org(factory, "saihan", "赛罕区"), _org(factory, "xincheng", "新城区"), _org(factory, "huimin", "回民区")]
    publisher = KafkaPublisher(kafka_bootstrap, client_id="test-follower")
    try:
        await publisher.send_rows(topic, [_row(e) for e in events])
        async with _scoring(tmp_path) as rt:
            consumer = FlakyConsumer(fail_once=str(events[2].id), name="scoring", service="scoring",
                                     sessions=rt.sessions, handlers=SCORING.handlers, clock=rt.clock, attempts=1)
            follower = KafkaFollower(consumer, bootstrap=kafka_bootstrap, topics=[topic], group=group,
                                     publisher=publisher)
            task = asyncio.create_task(follower.run())
            try:
                await asyncio.wait_for(consumer.failed.wait(), timeout=30)
                committed = await _committed(kafka_bootstrap, group, tp)
                assert committed is None or committed <= 2, "the failed message's offset was committed"
                deadline = asyncio.get_running_loop().time() + 30  # the follower restarts after a second
                while await _committed(kafka_bootstrap, group, tp) != 3:
                    assert asyncio.get_running_loop().time() < deadline, consumer.seen
                    await asyncio.sleep(0.2)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            async with rt.read() as session:
                orgs = (await session.execute(select(col(OrgFact.id)))).scalars().all()
                handled = (await session.execute(select(col(InboxRow.event_id)))).scalars().all()
    finally:
        await publisher.stop()
    deliveries = [origin for event_id, origin in consumer.seen if event_id == str(events[2].id)]
    assert deliveries == [f"{topic}/0@2", f"{topic}/0@2"], "the failed message is delivered again, same offset"
    assert sorted(orgs) == ["huimin", "saihan", "xincheng"]
    assert sorted(handled) == sorted(str(e.id) for e in events), "each handled once (redeliveries are no-ops)"


async def test_the_relay_retries_a_failed_send_and_marks_rows_published_only_after_it(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    prefix = f"adapter-{uuid.uuid4().hex[:8]}."
    settings = settings_for("issues", tmp_path, bus="kafka", kafka_bootstrap=kafka_bootstrap, kafka_prefix=prefix)
    async with start_runtime(ISSUES, settings, follow=False, background=False) as rt:
        real = rt.relay.publish
        assert real is not None and rt.publisher is not None
        published_at_retry: list[int] = []
        calls = 0

        async def flaky(rows: list[OutboxRow]) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise KafkaTimeoutError("the broker did not answer in time")
            async with rt.read() as session:
                published_at_retry.append((await session.execute(select(col(LogState.published)))).scalar_one())
            assert real is not None
            await real(rows)

        rt.relay.publish = flaky
        for org_id, name in (("saihan", "赛罕区"), ("xincheng", "新城区")):
            async with rt.unit_of_work(ADMIN) as uow:
                await issues_handlers.register_org(uow, cmd=OrgRegistered(org_id=org_id, name=name,
                                                                          kind=OrgKind.region))
        relay = asyncio.create_task(rt.relay.run())
        try:
            deadline = asyncio.get_running_loop().time() + 30
            while True:
                async with rt.read() as session:
                    state = (await session.execute(select(LogState))).scalar_one_or_none()
                if state is not None and state.published == 2:
                    break
                assert asyncio.get_running_loop().time() < deadline, f"not published: {state}"
                await asyncio.sleep(0.1)
        finally:
            relay.cancel()
            await asyncio.gather(relay, return_exceptions=True)
    assert calls == 2 and published_at_retry == [0], "the failed rows stayed unpublished until the retry"
    got = await _read(kafka_bootstrap, prefix + topic_for("issues"), 2)
    assert sorted((m.key.decode(), json.loads(m.value)["data"]["name"]) for m in got) == [
        ("saihan", "赛罕区"), ("xincheng", "新城区")]
