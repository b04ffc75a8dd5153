"""Kafka bus: idempotent producer for the relay, consumer group with manual commits, dead-letter topic."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError, OutOfOrderSequenceNumber

from contracts import DEAD_LETTER_TOPIC
from runtime.consumer import Consumer
from runtime.models import OutboxRow

log = structlog.get_logger("closeloop.kafka")


class KafkaPublisher:
    """Sends outbox rows keyed by subject; recreated after an OutOfOrderSequenceNumber."""

    def __init__(self, bootstrap: str, *, client_id: str) -> None:
        self.bootstrap = bootstrap
        self.client_id = client_id
        self.producer: AIOKafkaProducer | None = None
        self.lock = asyncio.Lock()
        self._starting = asyncio.Lock()

    async def _producer(self) -> AIOKafkaProducer:
        # One producer at a time: a readiness ping racing the relay's first send must not start a second one
        # that nobody stops. A producer whose start failed is stopped, its connections and tasks with it.
        async with self._starting:
            if self.producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.bootstrap,
                    client_id=self.client_id,
                    enable_idempotence=True,
                    linger_ms=2,
                    request_timeout_ms=15000,
                )
                try:
                    await producer.start()
                except BaseException:
                    try:
                        await producer.stop()
                    except Exception as exc:  # noqa: BLE001 — the start's error is the one to raise
                        log.info("producer_stop_failed", error=repr(exc))
                    raise
                self.producer = producer
            return self.producer

    async def reset(self) -> None:
        """Drop the producer so the next send builds a fresh one."""
        if self.producer is not None:
            producer, self.producer = self.producer, None
            try:
                await producer.stop()
            except Exception as exc:  # noqa: BLE001 — a broken producer is dropped either way
                log.warning("producer_stop_failed", error=repr(exc))

    async def send_rows(self, topic: str, rows: list[OutboxRow]) -> None:
        """Send rows in order and wait for every acknowledgement."""
        async with self.lock:
            try:
                producer = await self._producer()
                futures = [
                    await producer.send(topic, value=row.envelope.encode("utf-8"), key=row.subject.encode("utf-8"))
                    for row in rows
                ]
                await asyncio.gather(*futures)
            except OutOfOrderSequenceNumber:
                await self.reset()
                raise
            except KafkaError:
                await self.reset()
                raise

    async def send_raw(self, topic: str, *, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        """Send one message (dead letters)."""
        async with self.lock:
            producer = await self._producer()
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)

    async def ping(self) -> bool:
        """Whether the broker answers a metadata request."""
        try:
            producer = await self._producer()
            await producer.client.fetch_all_metadata()
            return True
        except Exception:  # noqa: BLE001 — readiness only reports reachability
            return False

    async def stop(self) -> None:
        """Flush and close."""
        await self.reset()


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka ships no type information
    """On revoke: commit what was handled of the partitions going away, drop the rest (the next owner gets it
    again; the inbox makes that a no-op for what was handled without being committed)."""

    def __init__(self, follower: KafkaFollower) -> None:
        self.follower = follower

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.follower.commit_pending()
        self.follower.revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("kafka_partitions_assigned", group=self.follower.group,
                 partitions=sorted(f"{tp.topic}/{tp.partition}" for tp in assigned))


class KafkaFollower:
    """A consumer group member: handle each message, then commit offset + 1; never commit a failure."""

    def __init__(self, consumer: Consumer, *, bootstrap: str, topics: list[str], group: str,
                 publisher: KafkaPublisher, dead_letter_topic: str = DEAD_LETTER_TOPIC) -> None:
        self.consumer = consumer
        self.bootstrap = bootstrap
        self.topics = topics
        self.group = group
        self.publisher = publisher
        self.dead_letter_topic = dead_letter_topic
        self.kafka: AIOKafkaConsumer | None = None
        self.pending: dict[TopicPartition, int] = {}
        consumer.dead_letter_sink = self._to_dead_letter_topic

    async def _to_dead_letter_topic(self, record: dict[str, Any]) -> None:
        headers = [(k, str(record[k] or "").encode("utf-8")) for k in ("consumer", "origin", "error", "event_id", "type")]
        await self.publisher.send_raw(
            self.dead_letter_topic,
            key=(record.get("event_id") or "").encode("utf-8") or None,
            value=json.dumps(record, ensure_ascii=False).encode("utf-8"),
            headers=headers,
        )

    def revoked(self, partitions: set[TopicPartition]) -> None:
        """Forget the uncommitted work of partitions this member no longer owns."""
        for tp in partitions:
            self.pending.pop(tp, None)

    def _owned(self, tp: TopicPartition) -> bool:
        return self.kafka is not None and tp in self.kafka.assignment()

    async def commit_pending(self) -> None:
        """Commit the offsets of what has been handled, for the partitions still assigned; a commit refused by a
        rebalance under way is dropped, not fatal: the next owner reads from the last commit, and the inbox makes
        what was handled already a no-op."""
        if self.kafka is None or not self.pending:
            return
        offsets, self.pending = {tp: o for tp, o in self.pending.items() if self._owned(tp)}, {}
        if not offsets:
            return
        try:
            await self.kafka.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            log.info("kafka_commit_dropped_by_rebalance", group=self.group, error=repr(exc))

    async def run(self) -> None:
        """Consume until cancelled."""
        while True:
            try:
                self.kafka = AIOKafkaConsumer(
                    bootstrap_servers=self.bootstrap,
                    group_id=self.group,
                    enable_auto_commit=False,
                    auto_offset_reset="earliest",
                    metadata_max_age_ms=5000,
                )
                await self.kafka.start()
                self.kafka.subscribe(self.topics, listener=_Rebalance(self))
                while True:
                    batches = await self.kafka.getmany(timeout_ms=200, max_records=200)
                    for tp, messages in batches.items():
                        if not self._owned(tp):
                            continue  # revoked since the fetch: its next owner reads it again
                        # one transaction for a partition's batch (inbox rows included); its offset is
                        # committed only after that commit
                        await self.consumer.process_many(
                            [m.value for m in messages],
                            origins=[f"{tp.topic}/{tp.partition}@{m.offset}" for m in messages])
                        if self._owned(tp):
                            self.pending[tp] = messages[-1].offset + 1
                    await self.commit_pending()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — the consumer restarts; uncommitted offsets are redelivered
                log.warning("kafka_consumer_restart", error=repr(exc))
                await asyncio.sleep(1.0)
            finally:
                if self.kafka is not None:
                    try:
                        await self.kafka.stop()
                    except Exception as exc:  # noqa: BLE001 — stopping a failed consumer may fail too
                        log.info("kafka_consumer_stop_failed", error=repr(exc))
                    self.kafka = None
                    self.pending = {}
