"""Events published by the scoring service: indicator.*, score.*, ranking.*."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from contracts.enums import AppealOutcome
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


class RankingCorrection(Payload):
    """Why a ranking supersedes the one before: an appeal the inspection office upheld (wholly or partly), and the
    component values of the appellant's row before and after."""

    appeal_id: str
    org_id: str
    component: str
    outcome: AppealOutcome
    previous: dict[str, float]
    corrected: dict[str, float]
    reasons: str


class FeedPosition(Payload):
    """How far scoring had read one log it follows when it computed a ranking: a peer's feed (embedded bus,
    `partition` None) or a topic partition (Kafka; the offset of the next message to read)."""

    feed: str = Field(max_length=200)
    partition: int | None = None
    position: int = Field(ge=0)


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
    # a correction published on an appeal's decision (更正); None for a publication by the admin
    on_appeal: RankingCorrection | None = None
    # how far scoring had read each log it follows when it computed the table (added later: absent in older
    # events, which were published without checking that scoring was caught up)
    positions: list[FeedPosition] | None = None


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
    # working days a ranked unit may appeal after publication, and the office has to decide after an appeal
    appeal_days: int = 5
    decision_days: int = 10


@event("calendar.year_published", 1)
class CalendarYearPublished(Payload):
    """A year of the working-day calendar (工作日历) as the inspection office set it: the whole year, replacing any
    earlier table of it. Appeal windows and reminders are computed from it."""

    year: int
    holidays: list[date]
    workdays: list[date]
    source: str


@event("appeal.filed", 1)
class AppealFiled(Payload):
    """A ranked unit disputes one component of its row in a published ranking (申诉), within the appeal window.

    `appeal_due` is the last day of the window (working days after the publication day, Asia/Shanghai), and
    `decision_due` the last day the office has to decide; both from the working-day calendar when it was filed."""

    appeal_id: str
    ranking_id: str
    period: str
    kind: str
    scheme_id: str
    org_id: str
    org_name: str | None = None
    component: str
    disputed_value: float
    reason: str
    evidence_ids: list[str] = Field(default_factory=list)
    filed_at: datetime
    filed_on: date
    appeal_due: date
    decision_due: date


@event("appeal.decided", 1)
class AppealDecided(Payload):
    """The inspection office decided an appeal (复核): upheld or partly upheld with the corrected component values
    (and the ranking that corrects the appealed one), or refused with reasons. `late`: decided after `decision_due`."""

    appeal_id: str
    ranking_id: str
    period: str
    kind: str
    org_id: str
    component: str
    outcome: AppealOutcome
    reasons: str
    previous: dict[str, float] | None = None
    correction: dict[str, float] | None = None
    corrected_ranking_id: str | None = None
    decided_at: datetime
    decided_on: date
    decision_due: date
    late: bool = False
