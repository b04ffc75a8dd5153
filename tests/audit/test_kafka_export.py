"""Export from Kafka: every partition from its beginning, redeliveries skipped, chains and hashes verified."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from audit.export import export_kafka
from audit.replay import replay_export
from audit.verify import verify_export
from tests.audit.logs import make_log

pytestmark = pytest.mark.kafka


async def test_a_kafka_export_verifies_and_replays_with_redeliveries_skipped(kafka_bootstrap: str,
                                                                              tmp_path: Path) -> None:
    topic = f"audit-test-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()
    log = make_log(30)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        events = [r["event"] for r in log.records]
        for ev in [*events[:12], events[5], *events[12:]]:  # event 6 sent twice, as a relay re-send would
            await producer.send_and_wait(topic, key=ev["subject"].encode(), value=orjson.dumps(ev))
    finally:
        await producer.stop()

    out = tmp_path / "export"
    manifest = await export_kafka(out, ["issues"], bootstrap=kafka_bootstrap, topics={"issues": topic})
    assert manifest["services"]["issues"]["events"] == 31
    assert len(manifest["services"]["issues"]["partitions"]) == 3
    [result] = verify_export(out)
    assert result.ok, result.problems
    assert result.events == 30
    replayed = await replay_export(out, handlers=False)
    assert all(r.ok for r in replayed.verified)
    assert len(replayed.projections.orgs) == 15 and replayed.projections.counts["org.registered"] == 15


async def test_a_kafka_export_with_an_altered_event_fails(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = f"audit-test-{uuid.uuid4().hex[:8]}"
    log = make_log(6)
    events = [r["event"] for r in log.records]
    events[2]["data"]["name"] = "篡改"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for ev in events:
            await producer.send_and_wait(topic, key=ev["subject"].encode(), value=orjson.dumps(ev))
    finally:
        await producer.stop()
    out = tmp_path / "export"
    await export_kafka(out, ["issues"], bootstrap=kafka_bootstrap, topics={"issues": topic})
    [result] = verify_export(out)
    assert not result.ok and "does not match its hash" in result.problems[0].reason
