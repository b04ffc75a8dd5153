"""Fixtures for the real servers: PostgreSQL and Kafka started by scripts/servers.sh (make test does it).

With CI=true or CLOSELOOP_REQUIRE_SERVERS=1 a test that needs a server it cannot reach FAILS; only a bare
`pytest` on a developer's machine without the servers skips them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest


def _required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("CLOSELOOP_REQUIRE_SERVERS") == "1"


def _missing(what: str) -> None:
    message = f"{what} is not available: run the tests with `make test` (it starts Kafka and PostgreSQL)"
    if _required():
        pytest.fail(message)
    pytest.skip(message)


def pg_admin_dsn() -> str:
    url = os.environ.get("CLOSELOOP_TEST_PG", "")
    return url.replace("postgresql+asyncpg://", "postgresql://")


@asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database (its URL), dropped when the block ends."""
    base = os.environ.get("CLOSELOOP_TEST_PG")
    if not base:
        _missing("PostgreSQL (CLOSELOOP_TEST_PG)")
    import asyncpg

    name = f"t_{uuid.uuid4().hex[:12]}"
    try:
        conn = await asyncpg.connect(pg_admin_dsn())
    except Exception as exc:  # noqa: BLE001 — reported as a failure or skip with the reason
        if _required():
            pytest.fail(f"cannot connect to PostgreSQL at {base}: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield base.rsplit("/", 1)[0] + f"/{name}"
    finally:
        conn = await asyncpg.connect(pg_admin_dsn())
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture
async def pg_url_pair() -> AsyncIterator[tuple[str, str]]:
    """Two fresh, empty PostgreSQL databases for one test (e.g. one event at a time against a batch); dropped
    afterwards."""
    async with fresh_pg_database() as one, fresh_pg_database() as other:
        yield one, other


@pytest.fixture
async def kafka_bootstrap() -> str:
    """The test broker's bootstrap address (checked with a metadata request)."""
    bootstrap = os.environ.get("CLOSELOOP_TEST_KAFKA")
    if not bootstrap:
        _missing("Kafka (CLOSELOOP_TEST_KAFKA)")
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        await admin.start()
        await admin.list_topics()
    except Exception as exc:  # noqa: BLE001 — reported as a failure or skip with the reason
        if _required():
            pytest.fail(f"cannot reach Kafka at {bootstrap}: {exc}")
        pytest.skip(f"Kafka unreachable: {exc}")
    finally:
        await admin.close()
    return bootstrap
