"""A poison message on Kafka lands in the dead-letter topic with its error and origin; consumers go on."""

from __future__ import annotations

import json

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.e2e.cluster import Cluster, eventually
from tests.e2e.flow import register_issue, setup_orgs
from tests.e2e.test_crash_safety import assignment_notices

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres]


async def test_poison_message_is_dead_lettered_and_the_consumers_move_on(kafka_cluster: Cluster) -> None:
    c = kafka_cluster
    prefix = c.extra_env["CLOSELOOP_KAFKA_PREFIX"]
    async with httpx.AsyncClient(timeout=30) as client:
        await setup_orgs(c, client)
        producer = AIOKafkaProducer(bootstrap_servers=c.kafka, enable_idempotence=True)
        await producer.start()
        try:
            await producer.send_and_wait(f"{prefix}closeloop.issues", key=b"poison", value=b"\xff not json at all")
        finally:
            await producer.stop()
        issue_id = await register_issue(c, client, code="HH-AFTER-POISON")

        async def notified() -> bool:
            return issue_id in await assignment_notices(c, client)

        await eventually(notified)

        reader = AIOKafkaConsumer(f"{prefix}closeloop.dead-letter", bootstrap_servers=c.kafka,
                                  auto_offset_reset="earliest", enable_auto_commit=False)
        await reader.start()
        records: list[dict[str, object]] = []
        try:
            async def three() -> bool:
                batch = await reader.getmany(timeout_ms=500)
                for messages in batch.values():
                    records.extend(json.loads(m.value) for m in messages)
                return len(records) >= 3

            await eventually(three)
        finally:
            await reader.stop()
        assert sorted(r["consumer"] for r in records) == ["notify", "scoring", "verification"]
        for r in records:
            assert "malformed envelope" in str(r["error"])
            assert str(r["origin"]).startswith(f"{prefix}closeloop.issues/")
            assert "not json at all" in str(r["payload"])

        async def recorded() -> list[dict[str, object]]:
            r = await client.get(f"{c.url('scoring')}/v1/dead-letters", headers=c.auth(roles="auditor"))
            return r.json()["items"]  # type: ignore[no-any-return]

        [item] = await eventually(recorded)  # written to the service's table right after the topic
        assert "malformed envelope" in str(item["error"])
