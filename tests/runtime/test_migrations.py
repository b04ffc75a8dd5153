"""Every service's migration history builds exactly the tables its models declare, and can be undone."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from runtime.bootstrap import ServiceSpec
from runtime.db import make_engine
from runtime.migrations import alembic_config, include_for, migrate

SERVICES = ("issues", "verification", "scoring", "notify")
SHARED = {"checkpoint", "dead_letter", "feed_cursor", "inbox", "log_state", "outbox", "parked_event", "subject_head"}


def _location(service: str) -> Path:
    spec: ServiceSpec = importlib.import_module(f"services.{service}.app").SPEC  # its tables join the metadata
    return spec.migrations


def _differences(connection: Connection, service: str) -> list[Any]:
    _location(service)
    context = MigrationContext.configure(connection, opts={"include_object": include_for(service),
                                                           "compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def _downgrade(connection: Connection, service: str) -> None:
    command.downgrade(alembic_config(service, _location(service), connection), "base")


async def _check(url: str, service: str) -> None:
    engine = make_engine(url)
    try:
        await migrate(engine, service, _location(service))
        async with engine.connect() as conn:
            assert await conn.run_sync(_differences, service) == []
            tables = await conn.run_sync(_tables)
        assert SHARED <= tables, "the runtime's tables come with every service's initial schema"
        assert all(t in SHARED or t.startswith(service) for t in tables), tables
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade, service)
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set()
        await migrate(engine, service, _location(service))  # and up again from nothing
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == tables
    finally:
        await engine.dispose()


@pytest.mark.parametrize("service", SERVICES)
async def test_the_migrated_sqlite_schema_is_the_models(service: str, tmp_path: Path) -> None:
    await _check(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", service)


@pytest.mark.postgres
@pytest.mark.parametrize("service", SERVICES)
async def test_the_migrated_postgres_schema_is_the_models(service: str, pg_url: str) -> None:
    await _check(pg_url, service)


def _calendar(connection: Connection, table: str) -> tuple[list[tuple[str, str, bool]], list[tuple[Any, ...]]]:
    columns = [(c["name"], str(c["type"]), bool(c["nullable"])) for c in inspect(connection).get_columns(table)]
    rows = [tuple(r) for r in connection.exec_driver_sql(f"SELECT * FROM {table} ORDER BY year").all()]
    return columns, rows


async def test_scoring_and_notify_build_the_same_calendar_table_from_one_ddl(tmp_path: Path) -> None:
    # one helper (runtime.calendar_table) makes both: the same columns, types and seeded rows, under two names
    built = {}
    for service in ("scoring", "notify"):
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / service}.db")
        try:
            await migrate(engine, service, _location(service))
            async with engine.connect() as conn:
                built[service] = await conn.run_sync(_calendar, f"{service}_calendar_year")
        finally:
            await engine.dispose()
    assert built["scoring"] == built["notify"]
    columns, rows = built["scoring"]
    assert [c[0] for c in columns] == ["year", "holidays", "workdays", "source", "updated_at"]
    assert len(rows) == 23 and rows[0][0] == 2004
