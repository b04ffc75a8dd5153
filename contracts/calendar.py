"""The mainland working-day calendar (工作日): public holidays and make-up working days (调休), as pure rules.

A year's table is data an admin can correct and extend (the State Council publishes next year's arrangement each
winter); these functions only read a table they are given. A day in a year the table does not have is refused
with `CalendarYearMissing`, never guessed: an appeal window or a reminder computed from a guess would be wrong
exactly on the days that matter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

MAX_WORKING_DAYS = 366  # a window longer than a year is a mistake, not a deadline


class CalendarYearMissing(LookupError):
    """A computation needed a year the calendar has no table for."""

    def __init__(self, year: int) -> None:
        self.year = year
        super().__init__(f"工作日历没有 {year} 年的数据(节假日和调休安排),不能推算;"
                         f"请管理员按国务院办公厅通知录入 {year} 年日历 (calendar has no data for {year})")


class CalendarError(ValueError):
    """A year's table that contradicts itself or the year it claims to be."""


@dataclass(frozen=True)
class YearCalendar:
    """One year: the days off (public holidays, weekends inside them included) and the weekend days worked."""

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]

    def __post_init__(self) -> None:
        for name, days in (("holidays", self.holidays), ("workdays", self.workdays)):
            stray = sorted(d for d in days if d.year != self.year)
            if stray:
                raise CalendarError(f"{name}: {stray[0].isoformat()} is not in {self.year}")
        both = sorted(self.holidays & self.workdays)
        if both:
            raise CalendarError(f"{both[0].isoformat()} is both a holiday and a make-up working day")
        weekday = sorted(d for d in self.workdays if d.weekday() < 5)
        if weekday:
            raise CalendarError(f"workdays: {weekday[0].isoformat()} is a weekday; only a Saturday or Sunday "
                                f"can be a make-up working day")

    def is_working_day(self, day: date) -> bool:
        """Monday to Friday unless a holiday; Saturday and Sunday only when a make-up working day."""
        if day.year != self.year:
            raise CalendarYearMissing(day.year)
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


@dataclass(frozen=True)
class WorkCalendar:
    """The years an office has tables for."""

    years: Mapping[int, YearCalendar]

    @classmethod
    def of(cls, tables: Iterable[YearCalendar]) -> WorkCalendar:
        """A calendar from year tables (a later table of the same year wins)."""
        return cls({t.year: t for t in tables})

    def year(self, year: int) -> YearCalendar:
        """The table of a year, or `CalendarYearMissing`."""
        table = self.years.get(year)
        if table is None:
            raise CalendarYearMissing(year)
        return table

    def is_working_day(self, day: date) -> bool:
        """Whether offices work on this day."""
        return self.year(day.year).is_working_day(day)

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start` (`start` itself not counted; n = 0 gives `start`)."""
        if not 0 <= n <= MAX_WORKING_DAYS:
            raise ValueError(f"working days must be between 0 and {MAX_WORKING_DAYS}, not {n}")
        day = start
        while n:
            day += timedelta(days=1)
            if self.is_working_day(day):
                n -= 1
        return day

    def working_day_before(self, day: date) -> date:
        """The last working day strictly before `day`."""
        d = day - timedelta(days=1)
        while not self.is_working_day(d):
            d -= timedelta(days=1)
        return d

    def on_or_before(self, day: date) -> date:
        """`day` when it is a working day, else the working day before it (where a reminder moves)."""
        return day if self.is_working_day(day) else self.working_day_before(day)


SEED_SOURCE = "chinese-calendar 1.11.0"


def seed_rows() -> list[dict[str, object]]:
    """Every seeded year as a row of ISO dates (what the services' migrations insert)."""
    rows: list[dict[str, object]] = []
    for year in seeded_years():
        t = seeded_year(year)
        rows.append({"year": year, "holidays": sorted(d.isoformat() for d in t.holidays),
                     "workdays": sorted(d.isoformat() for d in t.workdays), "source": SEED_SOURCE})
    return rows


def seeded_year(year: int) -> YearCalendar:
    """A year's table as the `chinese-calendar` package publishes it; `CalendarYearMissing` outside its years."""
    import chinese_calendar  # the seed's source only; the tables in the databases are what the services use

    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError as exc:
        raise CalendarYearMissing(year) from exc
    holidays = frozenset(d for d in chinese_calendar.holidays if d.year == year)
    workdays = frozenset(d for d in chinese_calendar.workdays if d.year == year)
    return YearCalendar(year=year, holidays=holidays, workdays=workdays)


def seeded_years() -> list[int]:
    """Every year the `chinese-calendar` package has a table for."""
    import chinese_calendar

    return sorted({d.year for d in chinese_calendar.holidays})
