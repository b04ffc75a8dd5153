"""scripts/servers.sh: `restart` brings the broker and the database back on the data they had (also after a broker
crash), where `start` gives what is not running empty data for a clean test start. (`kill` and `restart NAME`, one
server at a time, are what the fault suite tests/e2e/test_faults.py crashes and restarts them with.)"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cluster import free_port

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "servers.sh"
TOPIC = "servers-sh-restart-probe"

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def run(env: dict[str, str], command: str) -> str:
    done = subprocess.run(["bash", str(SCRIPT), command], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=400, check=False)
    assert done.returncode == 0, f"servers.sh {command}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A pair of servers of this test's own (own state dir, own ports), stopped and deleted afterwards."""
    kafka, controller, pg = free_port(), free_port(), free_port()
    env = {**os.environ, "CLOSELOOP_SERVERS_DIR": str(tmp_path / "servers"), "CLOSELOOP_KAFKA_PORT": str(kafka),
           "CLOSELOOP_KAFKA_CONTROLLER_PORT": str(controller), "CLOSELOOP_PG_PORT": str(pg)}
    try:
        run(env, "start")
        yield env
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, cwd=ROOT, capture_output=True, timeout=120,
                       check=False)


def addresses(env: dict[str, str]) -> tuple[str, str]:
    values = dict(line.removeprefix("export ").split("=", 1)
                  for line in (Path(env["CLOSELOOP_SERVERS_DIR"]) / "env").read_text().splitlines() if "=" in line)
    return values["CLOSELOOP_TEST_KAFKA"], values["CLOSELOOP_TEST_PG"].replace("postgresql+asyncpg://", "postgresql://")


async def write_probe(bootstrap: str, dsn: str) -> None:
    import asyncpg
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(TOPIC, b"kept across restart", partition=0)
    finally:
        await producer.stop()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE restart_probe (note text)")
        await conn.execute("INSERT INTO restart_probe VALUES ('kept across restart')")
    finally:
        await conn.close()


async def read_probe(bootstrap: str, dsn: str) -> tuple[list[bytes], list[str]]:
    import asyncpg
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        tp = TopicPartition(TOPIC, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        batch = await consumer.getmany(tp, timeout_ms=10000)
        messages = [m.value for m in batch.get(tp, []) if m.value is not None]
    finally:
        await consumer.stop()
    conn = await asyncpg.connect(dsn)
    try:
        notes = [r["note"] for r in await conn.fetch("SELECT note FROM restart_probe")]
    finally:
        await conn.close()
    return messages, notes


async def test_restart_after_a_broker_crash_keeps_the_topic_and_the_table(servers: dict[str, str]) -> None:
    bootstrap, dsn = addresses(servers)
    await write_probe(bootstrap, dsn)
    state = Path(servers["CLOSELOOP_SERVERS_DIR"])
    broker = int((state / "kafka" / "kafka.pid").read_text())
    os.kill(broker, signal.SIGKILL)  # the broker crashes; PostgreSQL keeps running
    deadline = time.monotonic() + 20
    while Path(f"/proc/{broker}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    out = run(servers, "restart")
    assert "topics and offsets kept" in out and "databases and tables kept" in out, out
    assert await read_probe(*addresses(servers)) == ([b"kept across restart"], ["kept across restart"])
    # restarting servers that run keeps their data too
    run(servers, "restart")
    assert await read_probe(*addresses(servers)) == ([b"kept across restart"], ["kept across restart"])


def test_the_usage_tells_start_from_restart() -> None:
    done = subprocess.run(["bash", str(SCRIPT), "help"], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2 and "restart" in done.stderr and "keeps the data" in done.stderr
    assert "kill kafka|postgresql" in done.stderr
    for command in (["restart", "zookeeper"], ["kill"], ["kill", "both"]):
        done = subprocess.run(["bash", str(SCRIPT), *command], capture_output=True, text=True, timeout=30,
                              check=False)
        assert done.returncode == 2 and "kafka|postgresql" in done.stderr, (command, done.stderr)
