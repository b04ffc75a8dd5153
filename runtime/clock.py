"""Clocks: the system clock, and one tests (and the scheduler) can set."""

from __future__ import annotations

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
