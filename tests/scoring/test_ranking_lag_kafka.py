"""On the Kafka bus: a ranking is refused while scoring's group has not handled every partition to its high-water
mark, or while a peer's outbox holds events not yet sent to its topic; published with the offsets it was computed
at once neither is the case."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts import topic_for
from runtime.bus.kafka import KafkaFollower, KafkaPublisher
from runtime.lag import read_lag
from runtime.models import OutboxRow
from tests.scoring.test_ranking_lag import served
from tests.support import EventFactory, running

pytestmark = pytest.mark.kafka

PUBLISH = {"period": "2020-09", "kind": "region"}


async def _topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, num_partitions=1, replication_factor=1) for n in names])
    finally:
        await admin.close()


async def caught_up(scoring: Any) -> None:
    for _ in range(300):
        if not any(x.behind for x in await read_lag(scoring.rt)):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(await read_lag(scoring.rt))


async def test_a_ranking_waits_for_the_group_to_reach_the_high_water_marks(kafka_bootstrap: str,
                                                                          tmp_path: Path) -> None:
    prefix = f"lag{uuid.uuid4().hex[:8]}."
    issues_topic, ver_topic = prefix + topic_for("issues"), prefix + topic_for("verification")
    await _topics(kafka_bootstrap, [issues_topic, ver_topic])
    kafka = {"bus": "kafka", "kafka_bootstrap": kafka_bootstrap, "kafka_prefix": prefix}
    async with running("issues", tmp_path, background=False, **kafka) as issues, \
            running("verification", tmp_path, background=False, **kafka) as ver, \
            served(issues.app) as issues_url, served(ver.app) as ver_url, \
            running("scoring", tmp_path, follow=True, background=False, ranking_catch_up_seconds=0.5,
                    issues_url=issues_url, verification_url=ver_url, **kafka) as scoring:
        [follower] = scoring.rt.followers
        assert isinstance(follower, KafkaFollower)
        consumer = scoring.rt.consumer
        assert consumer is not None
        gate, fetched = asyncio.Event(), asyncio.Event()
        handle = consumer.process_many

        async def stalled(raws: Any, **kw: Any) -> Any:  # scoring's handling held up, as when it lags
            fetched.set()
            await gate.wait()
            return await handle(raws, **kw)

        consumer.process_many = stalled  # type: ignore[method-assign]
        task = asyncio.create_task(follower.run())
        publisher = KafkaPublisher(kafka_bootstrap, client_id="lag-test")
        try:
            factory = EventFactory("issues")
            events = [factory.make("org.registered", org, {"org_id": org, "name": name, "kind": "region",
                                                           "zone_type": "urban_core"})
                      for org, name in (("xincheng", "新城区"), ("saihan", "赛罕区"), ("huimin", "回民区"))]
            await publisher.send_rows(issues_topic, [
                OutboxRow(event_id=str(e.id), type=e.type, subject=e.subject, seq=e.seq, time=e.time,
                          envelope=e.to_json()) for e in events])
            await asyncio.wait_for(fetched.wait(), timeout=30)

            r = await scoring.client.post("/v1/rankings", json=PUBLISH, headers=scoring.auth(roles="admin"))
            assert r.status_code == 409, r.text
            error = r.json()["error"]
            assert error["code"] == "scoring_behind"
            [late] = error["details"]
            assert (late["field"], late["position"], late["end"], late["lag"]) == (f"{issues_topic}/0", 0, 3, 3)
            assert (await scoring.client.get("/v1/rankings", headers=scoring.auth(roles="admin"))
                    ).json()["items"] == []

            gate.set()
            await caught_up(scoring)
            # the topic is read to its end, but the issues service holds an event its relay has not sent yet
            r = await issues.client.post("/v1/orgs", headers=issues.auth(org="inspection-office", roles="admin"),
                                         json={"id": "yuquan", "name": "玉泉区", "kind": "region",
                                               "zone_type": "urban_core"})
            assert r.status_code == 201, r.text
            assert await issues.rt.relay.sequence_once() == 1
            r = await scoring.client.post("/v1/rankings", json=PUBLISH, headers=scoring.auth(roles="admin"))
            assert r.status_code == 409, r.text
            [late] = r.json()["error"]["details"]
            assert (late["field"], late["position"], late["end"], late["lag"]) == ("issues:outbox", 0, 1, 1)

            assert await issues.rt.relay.publish_once() == 1  # the broker takes it; scoring reads it
            await caught_up(scoring)
            r = await scoring.client.post("/v1/rankings", json=PUBLISH, headers=scoring.auth(roles="admin"))
            assert r.status_code == 201, r.text
            assert sorted(r.json()["positions"], key=lambda p: p["feed"]) == [
                {"feed": issues_topic, "partition": 0, "position": 4},
                {"feed": ver_topic, "partition": 0, "position": 0}]
            assert sorted(row["org_id"] for row in r.json()["rows"]) == ["huimin", "saihan", "xincheng", "yuquan"]
        finally:
            gate.set()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await publisher.stop()
