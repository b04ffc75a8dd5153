"""Dates and instants a client may send: ISO text only, within the calendar every service can compute with.

Pydantic's lax mode reads `0` as 1970-01-01 and `0001-01-01T00:00:00+14:00` is a valid instant that no UTC
arithmetic can hold; both used to end in a 500 or a wrong date. These types refuse them as a 422 naming the field.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator

MIN_YEAR = 1900
MAX_YEAR = 2999  # far beyond any deadline; leaves room for Asia/Shanghai and every UTC offset at either end


def _iso_text(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("日期须写作 YYYY-MM-DD 字符串 (write the date as an ISO string, e.g. 2020-05-17)")
    return value


def _date_in_range(value: date) -> date:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"日期须在 {MIN_YEAR}–{MAX_YEAR} 年之间 (a date between the years {MIN_YEAR} and {MAX_YEAR})")
    return value


def _instant_in_range(value: datetime) -> datetime:
    try:
        year = value.astimezone(UTC).year
    except OverflowError:
        year = 0
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"时间须在 {MIN_YEAR}–{MAX_YEAR} 年之间 (a time between the years {MIN_YEAR} and {MAX_YEAR})")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_text), AfterValidator(_date_in_range)]
"""A calendar date sent as ISO text (YYYY-MM-DD), years MIN_YEAR–MAX_YEAR."""

Instant = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_instant_in_range)]
"""An instant with its offset, sent as ISO text, years MIN_YEAR–MAX_YEAR in UTC."""


def year_in_range(year: int) -> bool:
    """Whether a calendar year is one the services compute with."""
    return MIN_YEAR <= year <= MAX_YEAR

BoundedDatetime = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_instant_in_range)]
"""A date-time sent as ISO text, years MIN_YEAR–MAX_YEAR (for models that check the offset themselves)."""
