"""Deadlines: a date meaning the end of that day in Asia/Shanghai. No I/O."""

from __future__ import annotations

from datetime import date, datetime

from contracts import lifecycle
from runtime.clock import SHANGHAI, utcnow

CLOSED = lifecycle.CLOSED


def today_in_shanghai(now: datetime | None = None) -> date:
    """The calendar date in Asia/Shanghai."""
    return (now or utcnow()).astimezone(SHANGHAI).date()


def is_overdue(*, deadline: date, status: str, today: date | None = None) -> bool:
    """Deadline passed (the day after it has begun in Shanghai) and not signed off or filed."""
    return status not in CLOSED and (today or today_in_shanghai()) > deadline


def overdue_days(*, deadline: date, status: str, today: date | None = None) -> int:
    """How many days past the deadline an open issue is; 0 when not overdue."""
    day = today or today_in_shanghai()
    return (day - deadline).days if is_overdue(deadline=deadline, status=status, today=day) else 0
