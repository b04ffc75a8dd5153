"""Events published by the scoring service: indicator.*, score.*, ranking.*."""

from __future__ import annotations

from datetime import date, datetime

from contracts.registry import Payload, event


@event("indicator.recorded", 1)
class IndicatorRecorded(Payload):
    reading_id: str
    org_id: str
    indicator: str
    value: float
    observed_at: datetime


class RankingRow(Payload):
    org_id: str
    org_name: str | None = None
    score: float
    rank: int
    components: dict[str, float]
    overdue: int
    named: bool = False
    penalty: dict[str, object] | None = None


@event("ranking.published", 1)
class RankingPublished(Payload):
    """A frozen ranking (月通报): the whole table, the named bottom units and the penalised last ones."""

    ranking_id: str
    period: str
    kind: str
    scheme_id: str
    scheme_version: int
    published_at: datetime
    supersedes: str | None = None
    rows: list[RankingRow]
    bottom_named: list[str]
    penalized: list[str]


@event("score.scheme_versioned", 1)
class SchemeVersioned(Payload):
    """A new version of an assessment scheme (考核方案); the audit replay needs it to recompute scores."""

    scheme_id: str
    version: int
    weights: dict[str, dict[str, float]]
    bottom_named: int
    penalized: int
    penalty: dict[str, object] | None = None
    # points the quality component loses per missed milestone (重要节点); added later, absent means the default 5
    milestone_missed_points: float | None = None


@event("calendar.year_published", 1)
class CalendarYearPublished(Payload):
    """A year of the working-day calendar (工作日历) as the inspection office set it: the whole year, replacing any
    earlier table of it. Appeal windows and reminders are computed from it."""

    year: int
    holidays: list[date]
    workdays: list[date]
    source: str
