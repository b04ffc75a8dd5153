"""Readiness means "can take requests": database reachable and migrated. A broker outage does not make a
service unready (writes go to the outbox); the broker has its own check (/readyz?broker=1) and metrics."""

from __future__ import annotations

import socket
from pathlib import Path

from sqlalchemy import text

from tests.support import running


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sample(metrics: str, name: str) -> float | None:
    for line in metrics.splitlines():
        if line.startswith(name):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_a_broker_outage_leaves_the_service_ready_and_shows_in_its_own_check(tmp_path: Path) -> None:
    dead = f"127.0.0.1:{_closed_port()}"
    async with running("issues", tmp_path, bus="kafka", kafka_bootstrap=dead) as s:
        ready = await s.client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "migrations": "ok"}
        # writes keep succeeding through the outbox while the broker is away
        org = await s.client.post("/v1/orgs", headers=s.auth(roles="admin"), json={
            "id": "xincheng", "name": "新城区", "kind": "region", "zone_type": "urban_core"})
        assert org.status_code == 201, org.text
        broker = await s.client.get("/readyz", params={"broker": "1"})
        assert broker.status_code == 503, broker.text
        assert broker.json()["checks"]["broker"] == "unreachable"
        metrics = (await s.client.get("/metrics")).text
        assert _sample(metrics, 'closeloop_broker_up{bus="kafka"}') == 0


async def test_the_embedded_bus_has_no_broker_to_fail(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        broker = await s.client.get("/readyz", params={"broker": "1"})
        assert broker.status_code == 200 and broker.json()["checks"]["broker"] == "ok", broker.text
        assert 'closeloop_broker_up{' not in (await s.client.get("/metrics")).text


async def test_a_database_behind_the_code_is_not_ready(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        async with s.rt.sessions() as session, session.begin():
            await session.execute(text("UPDATE alembic_version SET version_num = 'older'"))
        ready = await s.client.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert "older" in ready.json()["checks"]["migrations"], ready.text
