"""Clusters of real service processes: embedded (SQLite + feeds) and kafka (PostgreSQL + broker)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import pg_admin_dsn
from tests.e2e.cluster import Cluster, create_pg_databases, drop_pg_databases


@pytest.fixture
async def embedded_cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    c = Cluster(data_dir=tmp_path / "cluster")
    try:
        await c.start_all()
        yield c
    finally:
        c.stop_all()


@pytest.fixture
async def kafka_cluster(tmp_path: Path, kafka_bootstrap: str, pg_url: str) -> AsyncIterator[Cluster]:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    dbs = await create_pg_databases(pg_admin_dsn(), prefix)
    c = Cluster(data_dir=tmp_path / "cluster", bus="kafka", kafka=kafka_bootstrap, databases=dbs,
                extra_env={"CLOSELOOP_KAFKA_PREFIX": f"{prefix}."})
    try:
        await c.start_all()
        yield c
    finally:
        c.stop_all()
        await drop_pg_databases(pg_admin_dsn(), dbs)
