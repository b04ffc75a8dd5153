"""A consumer group rebalance on the real broker: a second follower joins the group and leaves again while
events stream in; neither follower is torn down, no event is lost, and none is applied twice (inbox)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import col
from structlog.testing import capture_logs

from runtime.bus.kafka import KafkaFollower, KafkaPublisher
from runtime.consumer import Consumer, Outcome
from runtime.models import InboxRow
from services.scoring.app import SPEC as SCORING
from services.scoring.store import OrgFact
from tests.runtime.test_kafka import _org, _row, _scoring, _topic
from tests.support import EventFactory

pytestmark = pytest.mark.kafka


class SlowConsumer(Consumer):
    """Takes a while over each batch, so that rebalances happen while a batch is being handled."""

    async def process_many(self, raws: Sequence[str | bytes | dict[str, Any]], *, origins: Sequence[str],
                           before: Any = None) -> list[Outcome]:
        await asyncio.sleep(0.3)
        return await super().process_many(raws, origins=origins, before=before)


async def test_a_second_follower_joining_and_leaving_loses_and_duplicates_nothing(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = await _topic(kafka_bootstrap, partitions=4)
    group = f"rebalance-{uuid.uuid4().hex[:8]}"
    factory = EventFactory("issues")
    events = [_org(factory, f"org-{n}", f"单位{n}") for n in range(120)]
    publisher = KafkaPublisher(kafka_bootstrap, client_id="test-rebalance")
    try:
        async with _scoring(tmp_path) as rt:
            def follower() -> KafkaFollower:
                consumer = SlowConsumer(name="scoring", service="scoring", sessions=rt.sessions,
                                    handlers=SCORING.handlers, clock=rt.clock)
                return KafkaFollower(consumer, bootstrap=kafka_bootstrap, topics=[topic], group=group,
                                     publisher=publisher)

            async def handled() -> int:
                async with rt.read() as session:
                    return int((await session.execute(select(func.count()).select_from(InboxRow))).scalar_one())

            with capture_logs() as logged:
                first = asyncio.create_task(follower().run())
                await publisher.send_rows(topic, [_row(e) for e in events[:40]])
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 60
                while await handled() < 10:
                    assert loop.time() < deadline, "the first follower handled nothing"
                    await asyncio.sleep(0.1)
                second_follower = follower()
                second = asyncio.create_task(second_follower.run())
                await publisher.send_rows(topic, [_row(e) for e in events[40:80]])
                while second_follower.kafka is None or not second_follower.kafka.assignment():
                    assert loop.time() < deadline, "the second follower was given no partition"
                    await asyncio.sleep(0.1)
                await asyncio.sleep(1)
                second.cancel()  # leaves the group: its partitions go back to the first
                await asyncio.gather(second, return_exceptions=True)
                await publisher.send_rows(topic, [_row(e) for e in events[80:]])
                while await handled() < len(events):
                    assert loop.time() < deadline + 30, f"{await handled()} of {len(events)} handled"
                    await asyncio.sleep(0.2)
                await asyncio.sleep(1)  # anything delivered twice would arrive now
                first.cancel()
                await asyncio.gather(first, return_exceptions=True)
            async with rt.read() as session:
                orgs = (await session.execute(select(col(OrgFact.id)))).scalars().all()
                inbox = (await session.execute(select(col(InboxRow.event_id)))).scalars().all()
    finally:
        await publisher.stop()
    assert sorted(orgs) == sorted(f"org-{n}" for n in range(120))
    assert sorted(inbox) == sorted(str(e.id) for e in events), "each event handled exactly once"
    restarts = [e for e in logged if e.get("event") == "kafka_consumer_restart"]
    assert restarts == [], f"a follower was torn down by the rebalance: {restarts}"
    assert sum(e.get("event") == "kafka_partitions_assigned" for e in logged) >= 3, "no rebalance happened"
