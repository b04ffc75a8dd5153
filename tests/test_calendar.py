"""The working-day calendar against the real 2020 and 2026 arrangements of the State Council, worked by hand."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from contracts.calendar import CalendarError, CalendarYearMissing, WorkCalendar, YearCalendar, seeded_year, seeded_years

CAL = WorkCalendar.of([seeded_year(2020), seeded_year(2026)])


def test_make_up_saturdays_and_sundays_are_working_days() -> None:
    # 2020: 国庆中秋 调休 9月27日(周日)、10月10日(周六)上班; 2026: 春节 调休 2月14日(周六)上班
    assert date(2020, 10, 10).weekday() == 5 and CAL.is_working_day(date(2020, 10, 10))
    assert date(2020, 9, 27).weekday() == 6 and CAL.is_working_day(date(2020, 9, 27))
    assert date(2026, 2, 14).weekday() == 5 and CAL.is_working_day(date(2026, 2, 14))
    assert not CAL.is_working_day(date(2020, 10, 11))  # an ordinary Sunday


def test_national_day_2020_is_eight_days_off() -> None:
    assert [CAL.is_working_day(date(2020, 10, d)) for d in range(1, 9)] == [False] * 8
    assert CAL.is_working_day(date(2020, 9, 30)) and CAL.is_working_day(date(2020, 10, 9))


def test_five_working_days_after_29_september_2020_is_13_october() -> None:
    # 9-30 (1); 10-01..08 off; 10-09 Fri (2); 10-10 make-up Sat (3); 10-11 Sun off; 10-12 (4); 10-13 (5)
    assert CAL.add_working_days(date(2020, 9, 29), 5) == date(2020, 10, 13)
    assert CAL.add_working_days(date(2020, 9, 29), 0) == date(2020, 9, 29)
    assert CAL.add_working_days(date(2020, 9, 29), 1) == date(2020, 9, 30)


def test_the_working_day_before_a_holiday_skips_back_over_it() -> None:
    # 10-03 is inside the holiday: the working day before is Wed 9-30 (the make-up Sunday 9-27 lies further back)
    assert CAL.working_day_before(date(2020, 10, 3)) == date(2020, 9, 30)
    assert CAL.on_or_before(date(2020, 10, 3)) == date(2020, 9, 30)
    assert CAL.on_or_before(date(2020, 10, 10)) == date(2020, 10, 10)
    assert CAL.working_day_before(date(2020, 9, 28)) == date(2020, 9, 27)  # Mon → the make-up Sunday


def test_a_year_without_a_table_is_refused_and_named() -> None:
    with pytest.raises(CalendarYearMissing) as e:
        CAL.is_working_day(date(2021, 1, 4))
    assert e.value.year == 2021 and "2021" in str(e.value)
    with pytest.raises(CalendarYearMissing) as e:
        CAL.add_working_days(date(2026, 12, 30), 5)  # runs into 2027: refused, not guessed
    assert e.value.year == 2027
    with pytest.raises(CalendarYearMissing):
        seeded_year(2027)
    assert seeded_years() == list(range(2004, 2027))


def test_a_table_that_contradicts_itself_is_refused() -> None:
    with pytest.raises(CalendarError, match="both"):
        YearCalendar(year=2020, holidays=frozenset({date(2020, 10, 10)}), workdays=frozenset({date(2020, 10, 10)}))
    with pytest.raises(CalendarError, match="not in 2020"):
        YearCalendar(year=2020, holidays=frozenset({date(2021, 1, 1)}), workdays=frozenset())
    with pytest.raises(CalendarError, match="weekday"):
        YearCalendar(year=2020, holidays=frozenset(), workdays=frozenset({date(2020, 10, 9)}))
    with pytest.raises(ValueError, match="between"):
        CAL.add_working_days(date(2020, 1, 1), -1)


def test_2020_has_249_working_days_counted_by_hand() -> None:
    # weekdays off: 元旦 1 + 春节(延长至2月2日) 6 + 清明 1 + 劳动节 3 + 端午 2 + 国庆中秋 6 = 19;
    # make-up days worked: 1-19, 4-26, 5-09, 6-28, 9-27, 10-10 = 6; 262 weekdays - 19 + 6 = 249
    days = [date(2020, 1, 1) + timedelta(days=k) for k in range(366)]
    assert sum(d.weekday() < 5 for d in days) == 262
    assert sum(1 for d in seeded_year(2020).holidays if d.weekday() < 5) == 19
    assert sorted(seeded_year(2020).workdays) == [date(2020, 1, 19), date(2020, 4, 26), date(2020, 5, 9),
                                                  date(2020, 6, 28), date(2020, 9, 27), date(2020, 10, 10)]
    assert sum(CAL.is_working_day(d) for d in days) == 249
