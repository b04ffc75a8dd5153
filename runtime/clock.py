"""Clocks: the system clock, and one tests (and the scheduler) can set; and the source of fresh ids."""

from __future__ import annotations

import random
import uuid
from contextvars import ContextVar, Token
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)


class SettableClock(Clock):
    """A clock that stands still until moved (tests, replays)."""

    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        """The time it was set to."""
        return self._now

    def set(self, value: datetime) -> None:
        """Move to a given time."""
        self._now = value.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        """Move forward."""
        self._now += delta


def utcnow() -> datetime:
    """The current UTC time (timezone-aware)."""
    return datetime.now(UTC)


class IdSource:
    """Where fresh ids come from: random UUIDs (uuid4)."""

    def uuid(self) -> uuid.UUID:
        """A fresh UUID."""
        return uuid.uuid4()


class SeededIds(IdSource):
    """Version-4-shaped UUIDs drawn from a seeded generator: the same seed and order of work, the same ids."""

    def __init__(self, seed: int | str) -> None:
        self._rng = random.Random(seed)

    def uuid(self) -> uuid.UUID:
        """The next UUID of the seeded sequence."""
        return uuid.UUID(int=self._rng.getrandbits(128), version=4)


# A context variable, so that work running concurrently (one task per service) can each draw from its own source.
_RANDOM = IdSource()
_ids: ContextVar[IdSource | None] = ContextVar("closeloop_ids", default=None)


def use_ids(source: IdSource) -> Token[IdSource | None]:
    """Make `source` the id source of this context and the tasks it starts; `reset_ids` undoes it."""
    return _ids.set(source)


def reset_ids(token: Token[IdSource | None]) -> None:
    """Go back to the id source in use before `use_ids`."""
    _ids.reset(token)


def new_uuid() -> uuid.UUID:
    """A fresh UUID from the context's id source."""
    return (_ids.get() or _RANDOM).uuid()


def new_id() -> str:
    """A fresh UUID from the context's id source, as text."""
    return str(new_uuid())
