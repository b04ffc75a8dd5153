"""Operating the Kafka adapter: aiokafka's reconnection flood is summarised in the log, and a readiness ping
racing the relay's first send at start-up leaves no producer behind once the publisher stops."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest

from runtime.bus.kafka import KafkaPublisher
from runtime.logs import KAFKA_LOGGERS, Summarised, summarise_kafka_logs
from tests.runtime.test_kafka import _org, _row, _topic
from tests.support import EventFactory


@pytest.mark.fast
def test_a_flood_of_one_line_is_let_through_once_an_interval_and_counted() -> None:
    now = [0.0]
    summary = Summarised(interval=30, clock=lambda: now[0])
    logger = logging.getLogger(f"aiokafka.test-{uuid.uuid4().hex[:6]}")
    logger.propagate = False
    logger.addFilter(summary)
    out: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            out.append(record.getMessage())

    logger.addHandler(Keep())
    for second in range(90):  # ~1,600 lines in a 38 s outage is ~40 a second
        now[0] = float(second)
        for _ in range(40):
            logger.error("Unable connect to node with id %s: %s", 1, "Connect call failed")
    logger.error("another message")
    assert len(out) == 4, out
    assert out[0] == "Unable connect to node with id 1: Connect call failed"
    assert "1199 similar line(s) held back" in out[1] and "已省略" in out[1], out[1]
    assert out[3] == "another message"


@pytest.mark.fast
def test_the_summary_is_installed_once_on_aiokafkas_loggers() -> None:
    first = summarise_kafka_logs()
    assert summarise_kafka_logs() is first
    for name in KAFKA_LOGGERS:
        assert sum(isinstance(f, Summarised) for f in logging.getLogger(name).filters) == 1, name


def _kafka_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if not t.done() and "aiokafka" in repr(t.get_coro())]


@pytest.mark.kafka
async def test_a_ping_racing_the_first_send_leaves_no_producer_after_stop(kafka_bootstrap: str) -> None:
    topic = await _topic(kafka_bootstrap, partitions=1)
    before = len(_kafka_tasks())
    publisher = KafkaPublisher(kafka_bootstrap, client_id=f"test-ping-{uuid.uuid4().hex[:6]}")
    started: list[object] = []
    real_start = publisher._producer

    async def counting() -> object:
        producer = await real_start()
        started.append(producer)
        return producer

    publisher._producer = counting  # type: ignore[method-assign]
    factory = EventFactory("issues")
    results = await asyncio.gather(publisher.ping(), publisher.send_rows(topic, [_row(_org(factory, "saihan", "赛罕区"))]),
                                   publisher.ping())
    assert results[0] is True and results[2] is True
    assert len({id(p) for p in started}) == 1, "one producer for the ping and the send"
    await publisher.stop()
    await asyncio.sleep(0.2)
    assert publisher.producer is None
    left = _kafka_tasks()
    assert len(left) <= before, f"producer tasks left after stop: {left}"
