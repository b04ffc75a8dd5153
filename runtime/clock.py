"""Clocks: the system clock, and one tests (and the scheduler) can set; and the source of fresh ids."""

from __future__ import annotations

import random
import uuid
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

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def uuid(self) -> uuid.UUID:
        """The next UUID of the seeded sequence."""
        return uuid.UUID(int=self._rng.getrandbits(128), version=4)


_ids: IdSource = IdSource()


def use_ids(source: IdSource) -> IdSource:
    """Make `source` the process's id source (a seeded simulation); returns the one it replaces."""
    global _ids
    previous, _ids = _ids, source
    return previous


def new_uuid() -> uuid.UUID:
    """A fresh UUID from the process's id source."""
    return _ids.uuid()


def new_id() -> str:
    """A fresh UUID from the process's id source, as text."""
    return str(_ids.uuid())
