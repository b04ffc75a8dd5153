"""The relay's lease: only one instance per database sequences, signs checkpoints and publishes at a time.

PostgreSQL: a session-level advisory lock, taken with `pg_try_advisory_lock` on a connection kept for it alone
(not a pooled one shared with requests). The server releases it when that session ends — the instance stops,
dies, or loses its connection — and another instance's next try takes it. The holder checks its connection
every `check_every` seconds and gives the lease up at the first failure, so an instance that cannot reach the
database stops relaying before, or about when, another takes over.

SQLite needs none: one process owns the file, and its writers are serialised by BEGIN IMMEDIATE.
"""

from __future__ import annotations

import time

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = structlog.get_logger("closeloop.lease")

_TRY = text("SELECT pg_try_advisory_lock(hashtextextended(:k, 0))")
_UNLOCK = text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))")


class AdvisoryLease:
    """Held by at most one instance per PostgreSQL database (per `name`)."""

    def __init__(self, engine: AsyncEngine, *, name: str, check_every: float = 1.0) -> None:
        self.engine = engine
        self.name = name
        self.check_every = check_every
        self.conn: AsyncConnection | None = None
        self._checked = 0.0
        self.acquired = 0  # how many times this instance took the lease

    @property
    def held(self) -> bool:
        return self.conn is not None

    async def hold(self) -> bool:
        """Whether this instance holds the lease now: checks a held one (every `check_every` s), else tries to
        take it. Never raises: a database that does not answer means "not held"."""
        now = time.monotonic()
        if self.conn is not None:
            if now - self._checked < self.check_every:
                return True
            try:
                await self.conn.execute(text("SELECT 1"))
                await self.conn.commit()
                self._checked = now
                return True
            except Exception as exc:  # noqa: BLE001 — a lost session has lost its lock with it
                log.warning("relay_lease_lost", lease=self.name, error=repr(exc))
                await self._discard()
                return False
        conn: AsyncConnection | None = None
        try:
            conn = await self.engine.connect()
            got = bool((await conn.execute(_TRY, {"k": self.name})).scalar())
            await conn.commit()  # a session-level lock outlives the transaction; the session stays idle
        except Exception as exc:  # noqa: BLE001 — retried on the next tick
            log.info("relay_lease_unavailable", lease=self.name, error=repr(exc))
            if conn is not None:
                await self._close(conn, invalidate=True)
            return False
        if not got:
            await self._close(conn, invalidate=False)
            return False
        self.conn, self._checked = conn, now
        self.acquired += 1
        log.info("relay_lease_acquired", lease=self.name)
        return True

    async def release(self) -> None:
        """Give the lease up (on stop): unlock, then close the session."""
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            await conn.execute(_UNLOCK, {"k": self.name})
            await conn.commit()
        except Exception as exc:  # noqa: BLE001 — closing the session below releases it anyway
            log.info("relay_lease_unlock_failed", lease=self.name, error=repr(exc))
            await self._close(conn, invalidate=True)
            return
        await self._close(conn, invalidate=False)
        log.info("relay_lease_released", lease=self.name)

    async def _discard(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            await self._close(conn, invalidate=True)

    @staticmethod
    async def _close(conn: AsyncConnection, *, invalidate: bool) -> None:
        # invalidated, a connection that may still hold the lock is closed for good, never handed back to the pool
        try:
            if invalidate:
                await conn.invalidate()
            await conn.close()
        except Exception as exc:  # noqa: BLE001 — it is gone either way
            log.info("relay_lease_close_failed", error=repr(exc))
