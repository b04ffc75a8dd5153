"""Rules of the notify service: triggers, when reminders and digests fall due, the Chinese wording. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from contracts import lifecycle
from contracts.calendar import CalendarYearMissing, WorkCalendar
from contracts.enums import IssueStatus
from runtime.clock import SHANGHAI
from runtime.errors import field_error
from runtime.values import MAX_YEAR, MIN_YEAR, year_in_range

# Every trigger a notice can carry (inbox `type`, webhook `event_types`), with its Chinese name.
TRIGGERS: dict[str, str] = {
    "issue.assigned": "整改任务交办",
    "issue.reassigned": "整改任务调整交办",
    "deadline.near": "整改时限临近",
    "issue.overdue": "整改任务逾期",
    "issue.escalated": "逾期升级督办",
    "closure.requested": "销号申请待核查",
    "closure.accepted": "验收通过销号",
    "closure.rejected": "销号申请被退回",
    "issue.reopened": "问题反弹重新交办",
    "issue.parent_reopened": "子任务反弹上级任务重新整改",
    "milestone.near": "重要节点临近",
    "milestone.overdue": "重要节点逾期未报",
    "milestone.reported": "重要节点报告待确认",
    "milestone.reviewed": "重要节点报告审核结果",
    "sample.reinspected": "抽查复核结果",
    "digest.weekly": "周调度",
    "digest.monthly": "月通报",
    "digest.half_year": "半年交账",
    "appeal.filed": "排名申诉受理",
    "appeal.decided": "申诉复核决定",
    "digest.correction": "更正通报",
}

# The lifecycle's closed set and labels are the contract's (contracts.lifecycle); open is everything else.
DONE_STATUSES = tuple(s.value for s in IssueStatus if s in lifecycle.CLOSED)
OPEN_STATUSES = tuple(s.value for s in IssueStatus if s not in lifecycle.CLOSED)
SEND_AT = time(9, 0)  # reminders and digests go out at 09:00 Asia/Shanghai, office hours
NEAR_DAYS = (7, 1)
ESCALATE_AFTER_DAYS = lifecycle.ESCALATE_AFTER_DAYS
DUE_SOON_DAYS = 7
# the longest run of days off in a year (春节 with its weekends) stays well below this: a moved reminder is found
HOLIDAY_MARGIN_DAYS = 14

STATUS_ZH = {s.value: label for s, label in lifecycle.LABELS_ZH.items()}
COMPONENT_ZH = {"on_time_closure": "按期销号", "completion": "完成率", "quality": "整改质量",
                "environment": "环境质量"}
KIND_ZH = {"region": "地区", "department": "部门", "regions": "地区", "departments": "部门"}
OUTCOME_ZH = {"upheld": "申诉成立,予以更正", "partly_upheld": "申诉部分成立,予以更正", "refused": "申诉不成立,维持原排名",
              "pending": "正在复核"}


def check_triggers(values: list[str], *, field: str = "event_types") -> list[str]:
    """Refuse unknown trigger names, naming the field and the known ones."""
    for i, v in enumerate(values):
        if v not in TRIGGERS:
            raise field_error(f"{field}.{i}", f"unknown trigger {v!r}; known: {', '.join(TRIGGERS)}")
    return sorted(set(values))


def at_shanghai(day: date, at: time = SEND_AT) -> datetime:
    """A Shanghai wall-clock moment on a day, as UTC."""
    return datetime.combine(day, at, tzinfo=SHANGHAI).astimezone(UTC)


def shanghai_day(moment: datetime) -> date:
    """The calendar day in Shanghai of a UTC moment."""
    return moment.astimezone(SHANGHAI).date()


def assigned_at(recorded: datetime, assigned_on: date | None) -> datetime:
    """When an issue was assigned: the start of its assigned date (交办日期) where it has one, never after recording."""
    return recorded if assigned_on is None else min(recorded, at_shanghai(assigned_on, time(0, 0)))


def deadline_end(deadline: date) -> datetime:
    """A deadline means the end of that day in Shanghai."""
    return at_shanghai(deadline + timedelta(days=1), time(0, 0))


def days_overdue(deadline: date, now: datetime) -> int:
    """Whole days past the deadline (0 when not overdue)."""
    return max(0, (shanghai_day(now) - deadline).days)


@dataclass(frozen=True)
class Reminder:
    """One reminder of an issue: which kind, for which deadline, due at what moment."""

    kind: str  # near7, near1, overdue, escalated
    trigger: str
    due_at: datetime
    # the year the calendar had no table for, when a 'deadline near' could not be moved off a day off
    calendar_missing: int | None = None


def near_day(deadline: date, days: int, calendar: WorkCalendar | None) -> tuple[date, int | None]:
    """The day a 'deadline near' reminder goes out: `days` before, moved back to a working day when that is a
    day off; unmoved (with the missing year) when the calendar has no table, since a guess could be wrong."""
    nominal = deadline - timedelta(days=days)
    if calendar is None:
        return nominal, None
    try:
        return calendar.on_or_before(nominal), None
    except CalendarYearMissing as exc:
        return nominal, exc.year


def reminders_for(deadline: date, calendar: WorkCalendar | None = None) -> list[Reminder]:
    """The reminders of an open issue with this deadline, in order."""
    out = []
    for d in NEAR_DAYS:
        day, missing = near_day(deadline, d, calendar)
        out.append(Reminder(f"near{d}", "deadline.near", at_shanghai(day), missing))
    out.append(Reminder("overdue", "issue.overdue", at_shanghai(deadline + timedelta(days=1))))
    # overdue from the day after the deadline; escalated once it has been overdue for 15 whole days
    out.append(Reminder("escalated", "issue.escalated", at_shanghai(deadline + timedelta(days=ESCALATE_AFTER_DAYS + 1))))
    return out


def due_reminders(deadline: date, now: datetime, calendar: WorkCalendar | None = None) -> list[Reminder]:
    """Reminders due at `now`; a 'deadline near' that was missed is dropped once the deadline has passed."""
    end = deadline_end(deadline)
    return [r for r in reminders_for(deadline, calendar)
            if r.due_at <= now and not (r.trigger == "deadline.near" and now >= end)]


def milestone_reminders(due_on: date, calendar: WorkCalendar | None = None) -> list[Reminder]:
    """The reminders of a milestone not yet reported: 7 and 1 days before its day (moved back off days off, as a
    deadline's), and an overdue notice the day after it passed unreported."""
    out = []
    for d in NEAR_DAYS:
        day, missing = near_day(due_on, d, calendar)
        out.append(Reminder(f"ms_near{d}", "milestone.near", at_shanghai(day), missing))
    out.append(Reminder("ms_overdue", "milestone.overdue", at_shanghai(due_on + timedelta(days=1))))
    return out


def due_milestone_reminders(due_on: date, now: datetime, calendar: WorkCalendar | None = None) -> list[Reminder]:
    """Milestone reminders due at `now`; a 'near' one missed is dropped once the day has passed."""
    end = deadline_end(due_on)
    return [r for r in milestone_reminders(due_on, calendar)
            if r.due_at <= now and not (r.trigger == "milestone.near" and now >= end)]


def milestone_missed(due_on: date, met_reported_at: datetime | None, now: datetime) -> bool:
    """Past its day without a standing report of "met" made by the end of it (the rule scoring counts)."""
    end = deadline_end(due_on)
    return now >= end and (met_reported_at is None or met_reported_at >= end)


def earliest_reminder_deadline(now: datetime) -> date:
    """Issues with a deadline after this day have no reminder due yet (near7, moved back over days off, is first)."""
    return shanghai_day(now) + timedelta(days=max(NEAR_DAYS) + HOLIDAY_MARGIN_DAYS)


# --- cadence ---------------------------------------------------------------------------------------------

def last_weekly(now: datetime) -> datetime:
    """The most recent Monday 09:00 Shanghai at or before `now`."""
    local = now.astimezone(SHANGHAI)
    monday = local.date() - timedelta(days=local.weekday())
    moment = at_shanghai(monday)
    return moment if moment <= now else at_shanghai(monday - timedelta(days=7))


def week_period(moment: datetime) -> str:
    """ISO week label of a moment in Shanghai, e.g. 2020-W23."""
    y, w, _ = moment.astimezone(SHANGHAI).isocalendar()
    return f"{y}-W{w:02d}"


def half_year_occurrences(since: datetime, now: datetime) -> list[datetime]:
    """Every 1 Jan / 1 Jul 09:00 Shanghai in (since, now], oldest first."""
    out: list[datetime] = []
    year = since.astimezone(SHANGHAI).year
    while True:
        for month in (1, 7):
            moment = at_shanghai(date(year, month, 1))
            if moment > now:
                return out
            if moment > since:
                out.append(moment)
        year += 1


def half_year_closing(occurrence: datetime) -> str:
    """The half year an occurrence accounts for: 1 Jul 2020 → 2020-H1, 1 Jan 2021 → 2020-H2."""
    day = shanghai_day(occurrence)
    return f"{day.year}-H1" if day.month == 7 else f"{day.year - 1}-H2"


def last_closed_half(now: datetime) -> str:
    """The most recent half year that has ended."""
    day = shanghai_day(now)
    return f"{day.year}-H1" if day.month >= 7 else f"{day.year - 1}-H2"


def half_bounds(period: str) -> tuple[datetime, datetime]:
    """UTC start (inclusive) and end (exclusive) of a half year like 2020-H1."""
    try:
        year_s, half = period.split("-")
        year = int(year_s)
        if half not in ("H1", "H2") or len(year_s) != 4 or not year_in_range(year):
            raise ValueError(period)
    except ValueError as exc:
        raise field_error("period", f"半年写作 2020-H1 或 2020-H2,年份在 {MIN_YEAR}–{MAX_YEAR} 之间 "
                                    "(a half year is written like 2020-H1 or 2020-H2)") from exc
    if half == "H1":
        return at_shanghai(date(year, 1, 1), time(0)), at_shanghai(date(year, 7, 1), time(0))
    return at_shanghai(date(year, 7, 1), time(0)), at_shanghai(date(year + 1, 1, 1), time(0))


def half_zh(period: str) -> str:
    """2020-H1 → 2020年上半年."""
    year, half = period.split("-")
    return f"{year}年{'上' if half == 'H1' else '下'}半年"


def month_zh(period: str) -> str:
    """2020-06 → 2020年6月; other period labels as they are."""
    parts = period.split("-")
    if len(parts) == 2 and parts[1].isdigit():
        return f"{parts[0]}年{int(parts[1])}月"
    if len(parts) == 2 and parts[1] in ("H1", "H2"):
        return half_zh(period)
    return f"{period}年" if period.isdigit() else period


def date_zh(day: date) -> str:
    """2020-07-05 → 2020年7月5日."""
    return f"{day.year}年{day.month}月{day.day}日"


def percent(part: int, whole: int) -> str:
    """A rate as text, 100% when there is nothing to do."""
    return "100.0%" if whole == 0 else f"{100.0 * part / whole:.1f}%"


REINSPECTION_ZH: dict[str | None, str] = {None: "待复核", "confirmed": "复核属实", "rebound": "发现反弹"}
