"""Idempotent event handling: inbox, retries with backoff, dead letters. One code path for both buses."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from contracts import Envelope
from contracts.registry import is_known, parse_data
from runtime.clock import Clock
from runtime.logs import correlation_id
from runtime.models import DeadLetter, FeedCursor, InboxRow
from runtime.outbox import UnitOfWork

log = structlog.get_logger("closeloop.consumer")

Handler = Callable[[UnitOfWork, Envelope, BaseModel], Awaitable[None]]


class Poison(Exception):
    """A message that can never be handled as it is (bad envelope, bad hash, bad payload)."""


@dataclass
class Outcome:
    status: str  # handled, duplicate, ignored, dead
    event_id: str | None = None
    error: str | None = None


DeadLetterSink = Callable[[dict[str, Any]], Awaitable[None]]


class Consumer:
    """Runs the service's handler table over incoming envelopes, exactly once in effect."""

    def __init__(
        self,
        *,
        name: str,
        service: str,
        sessions: async_sessionmaker[AsyncSession],
        handlers: Mapping[str, Handler],
        clock: Clock,
        attempts: int = 4,
        backoff: float = 0.1,
        after_commit: Callable[[], None] | None = None,
        metrics: Any = None,
    ) -> None:
        self.name = name
        self.service = service
        self.sessions = sessions
        self.handlers = handlers
        self.clock = clock
        self.attempts = attempts
        self.backoff = backoff
        self.after_commit = after_commit
        self.metrics = metrics
        self.dead_letter_sink: DeadLetterSink | None = None

    def decode(self, raw: str | bytes | dict[str, Any]) -> Envelope:
        """Parse and check one envelope; anything wrong with it is poison."""
        try:
            data = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
            envelope = Envelope.model_validate(data)
        except (ValueError, ValidationError) as exc:
            raise Poison(f"malformed envelope: {exc}") from exc
        if not envelope.hash_ok():
            raise Poison(f"hash mismatch for event {envelope.id}: the envelope was altered")
        return envelope

    async def process(self, raw: str | bytes | dict[str, Any], *, origin: str, feed: str | None = None,
                      position: int | None = None) -> Outcome:
        """Handle one message; retried with backoff, dead-lettered when it keeps failing."""
        event_id: str | None = None
        event_type: str | None = None
        error = ""
        for attempt in range(1, self.attempts + 1):
            try:
                envelope = self.decode(raw)
                event_id, event_type = str(envelope.id), envelope.type
                outcome = await self._handle_once(envelope, feed=feed, position=position)
                self._count(outcome.status)
                return outcome
            except Poison as exc:
                error = str(exc)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — retried, then dead-lettered with the error
                error = f"{type(exc).__name__}: {exc}"
                log.warning("handler_failed", consumer=self.name, event_id=event_id, type=event_type,
                            attempt=attempt, error=error)
                if attempt < self.attempts:
                    await asyncio.sleep(self.backoff * (2 ** (attempt - 1)))
        await self._dead_letter(raw, origin=origin, event_id=event_id, event_type=event_type, error=error,
                                feed=feed, position=position)
        self._count("dead")
        return Outcome("dead", event_id, error)

    def _count(self, status: str) -> None:
        if self.metrics is not None:
            self.metrics.consumed.labels(consumer=self.name, outcome=status).inc()

    async def _handle_once(self, envelope: Envelope, *, feed: str | None, position: int | None) -> Outcome:
        handler = self.handlers.get(envelope.type)
        event_id = str(envelope.id)
        token = correlation_id.set(envelope.correlation_id)  # the handler's logs carry the request's id
        try:
            return await self._in_transaction(envelope, handler, event_id, feed=feed, position=position)
        finally:
            correlation_id.reset(token)

    async def _in_transaction(self, envelope: Envelope, handler: Handler | None, event_id: str, *,
                              feed: str | None, position: int | None) -> Outcome:
        async with self.sessions() as session, session.begin():
            if feed is not None and position is not None:
                await self._advance(session, feed, position)
            if handler is None:
                return Outcome("ignored", event_id)
            seen = await session.get(InboxRow, (self.name, event_id))
            if seen is not None:
                return Outcome("duplicate", event_id)
            if not is_known(envelope.type):
                raise Poison(f"unknown event type {envelope.type}")
            try:
                payload = parse_data(envelope.type, envelope.version, envelope.data)
            except (ValidationError, KeyError) as exc:
                raise Poison(f"payload of {envelope.type} v{envelope.version} does not validate: {exc}") from exc
            uow = UnitOfWork(
                session=session,
                service=self.service,
                actor=envelope.actor,
                correlation_id=envelope.correlation_id,
                causation_id=event_id,
                clock=self.clock,
            )
            await handler(uow, envelope, payload)
            session.add(InboxRow(consumer=self.name, event_id=event_id, type=envelope.type,
                                 processed_at=self.clock.now()))
        if self.after_commit:
            self.after_commit()
        return Outcome("handled", event_id)

    async def _advance(self, session: AsyncSession, feed: str, position: int) -> None:
        cursor = await session.get(FeedCursor, (self.name, feed))
        if cursor is None:
            session.add(FeedCursor(consumer=self.name, feed=feed, position=position))
        elif position > cursor.position:
            cursor.position = position

    async def _dead_letter(self, raw: Any, *, origin: str, event_id: str | None, event_type: str | None,
                           error: str, feed: str | None, position: int | None) -> None:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else (
            raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False))
        record: dict[str, Any] = {"consumer": self.name, "event_id": event_id, "type": event_type, "origin": origin,
                  "error": error, "payload": text}
        log.error("dead_letter", consumer=self.name, event_id=event_id, type=event_type, origin=origin, error=error)
        if self.dead_letter_sink is not None:
            await self.dead_letter_sink(record)
        async with self.sessions() as session, session.begin():
            session.add(DeadLetter(**record, created_at=self.clock.now()))
            if feed is not None and position is not None:
                await self._advance(session, feed, position)

    async def cursor(self, feed: str) -> int:
        """How far this consumer has read a feed."""
        async with self.sessions() as session:
            row = (await session.execute(
                select(FeedCursor).where(col(FeedCursor.consumer) == self.name, col(FeedCursor.feed) == feed)
            )).scalar_one_or_none()
            return row.position if row else 0
