"""Async database access (SQLite via aiosqlite, PostgreSQL via asyncpg); migrations are in runtime.migrations."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator

from runtime.keyfiles import private


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; times are stored in UTC and must carry a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# What SQLite says, as an OperationalError like a locked or unreachable file's, when the statement or the schema is
# wrong: a table or column that does not exist (a migration not run, a typo), bad SQL. Retrying never helps.
_SQLITE_STATEMENT_FAULTS = ("no such table", "no such column", "no such function", "no such index",
                            "no such collation", "has no column named", "syntax error", "already exists",
                            "ambiguous column name")


def is_sqlite_statement_fault(exc: BaseException) -> bool:
    """Whether `exc` is SQLite's OperationalError for a fault of the statement or the schema ("no such table"),
    not for a database that cannot serve now ("database is locked", "unable to open database file"); SQLAlchemy's
    wrapper is looked through. Such an error is the code's or the event's, never an outage."""
    import sqlite3

    from sqlalchemy import exc as sa_exc

    orig = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
    if not isinstance(orig, sqlite3.OperationalError):
        return False
    message = str(orig).lower()
    return any(fault in message for fault in _SQLITE_STATEMENT_FAULTS)


def is_sqlite(url: str) -> bool:
    """Whether the URL names a SQLite database."""
    return url.startswith("sqlite")


def _sqlite_path(url: str) -> str:
    return url.split(":///", 1)[1] if ":///" in url else ""


def make_engine(url: str, *, pool_size: int = 10, inline: bool = False) -> AsyncEngine:
    """An engine for writers; SQLite gets WAL, a busy timeout and BEGIN IMMEDIATE so writers queue instead of
    failing. Reads go through `make_read_engine`, which never takes SQLite's write lock.

    `inline` (SQLite files only) runs each statement on the event loop's own thread instead of aiosqlite's
    worker (runtime.sqlite_inline): for batch jobs that do nothing else while a statement runs, never a server."""
    if is_sqlite(url):
        path = _sqlite_path(url)
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # created owner-only before SQLite opens it; SQLite gives its -wal and -shm files the same mode
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        if inline:
            if not path or path == ":memory:":
                raise ValueError("an inline SQLite engine needs a database file")
            from runtime.sqlite_inline import inline_creator

            engine = create_async_engine(url, async_creator=inline_creator(path))
        else:
            engine = create_async_engine(url, connect_args={"timeout": 30})
        _sqlite_pragmas(engine, path=path, begin="BEGIN IMMEDIATE")
        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def make_read_engine(url: str, *, pool_size: int = 10) -> AsyncEngine | None:
    """A second engine for read-only sessions on a SQLite file: deferred transactions under WAL read a snapshot
    while a writer holds the write lock, and `query_only` refuses any write through it. None elsewhere
    (PostgreSQL readers never wait for writers; an in-memory SQLite database cannot be shared by two engines)."""
    if not is_sqlite(url):
        return None
    path = _sqlite_path(url)
    if not path or path == ":memory:":
        return None
    engine = create_async_engine(url, connect_args={"timeout": 30})
    _sqlite_pragmas(engine, path=path, begin="BEGIN", read_only=True)
    return engine


def _sqlite_pragmas(engine: AsyncEngine, *, path: str, begin: str, read_only: bool = False) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        if not read_only:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        if read_only:
            cur.execute("PRAGMA query_only=ON")
        cur.close()
        if path and path != ":memory:":
            # the database holds webhook secrets and every record: owner-only, like the key files beside it
            for name in (path, f"{path}-wal", f"{path}-shm"):
                private(Path(name))

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One session in one transaction: committed on success, rolled back on error."""
    async with sessions() as session, session.begin():
        yield session

