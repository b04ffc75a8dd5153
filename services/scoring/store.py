"""Tables of the scoring service and keyword-only queries over them.

Facts from consumed events are stored as they came, with their event times, and scores are computed at query
time: the order in which topics delivered them never matters.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Integer, Text, UniqueConstraint, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from contracts.calendar import WorkCalendar, YearCalendar
from runtime.db import UTCDateTime
from runtime.models import OutboxRow
from runtime.pagination import Key, fetch_page
from services.scoring import domain

OWN = {"service": "scoring"}


class OrgFact(SQLModel, table=True):
    """An org as `org.registered` described it (the latest event wins)."""

    __tablename__ = "scoring_org"
    __table_args__ = ({"info": OWN},)

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=40)
    zone_type: str | None = Field(default=None, max_length=40)
    event_time: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class IssueEventFact(SQLModel, table=True):
    """One consumed issue or closure event, with its event time and the payload fields scoring needs."""

    __tablename__ = "scoring_issue_event"
    __table_args__ = ({"info": OWN},)

    event_id: str = Field(primary_key=True, max_length=36)
    issue_id: str = Field(max_length=64, index=True)
    type: str = Field(max_length=60)
    source: str = Field(max_length=40)
    seq: int
    time: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    org_id: str | None = Field(default=None, max_length=64)
    deadline: date | None = None
    target_indicator: str | None = Field(default=None, max_length=100, index=True)
    target_op: str | None = Field(default=None, max_length=2)
    target_value: float | None = None
    to_status: str | None = Field(default=None, max_length=40)
    # when the event was recorded, where `time` is when it took effect (an assigned date, 交办日期); NULL: the same
    recorded_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # 任务分解 and 重要节点: the parent a registration names; the milestone an issue.milestone_* event is about (its
    # day in `deadline`), the outcome reported and the supervisor's review
    parent_id: str | None = Field(default=None, max_length=36)
    milestone_id: str | None = Field(default=None, max_length=36)
    outcome: str | None = Field(default=None, max_length=20)
    review: str | None = Field(default=None, max_length=20)
    # one code of what the event says, for the accountability clues: a rejection's reason_code (superficial…),
    # a re-inspection's outcome, a milestone review's "review:outcome"; and the task's code (registration)
    detail: str | None = Field(default=None, max_length=40)
    code: str | None = Field(default=None, max_length=64)


# The walking skeleton's name for what scoring keeps of issues (tests/runtime/test_consumer.py counts its rows).
IssueFact = IssueEventFact


class ReadingRow(SQLModel, table=True):
    """A monitoring reading (from a monitoring system or the admin)."""

    __tablename__ = "scoring_reading"
    __table_args__ = ({"info": OWN},)

    id: str = Field(primary_key=True, max_length=36)
    org_id: str = Field(max_length=64, index=True)
    indicator: str = Field(max_length=100)
    value: float
    observed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    recorded_by: str = Field(max_length=200)


class SchemeVersion(SQLModel, table=True):
    """One version of a scheme; versions are only ever added."""

    __tablename__ = "scoring_scheme"
    __table_args__ = ({"info": OWN},)

    id: str = Field(primary_key=True, max_length=64)
    version: int = Field(primary_key=True)
    weights: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    bottom_named: int
    penalized: int
    penalty: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_by: str = Field(max_length=200)
    # NULL for versions stored before milestones were scored: the default (domain.DEFAULT_MILESTONE_POINTS)
    milestone_missed_points: float | None = None
    # working days to appeal after publication, and to decide after an appeal (versions stored before had 5 and 10)
    appeal_days: int = Field(default=5, sa_column=Column(Integer, nullable=False, server_default="5"))
    decision_days: int = Field(default=10, sa_column=Column(Integer, nullable=False, server_default="10"))


class Ranking(SQLModel, table=True):
    """A published ranking; immutable. A correction is a new row of the next generation that supersedes it."""

    __tablename__ = "scoring_ranking"
    __table_args__ = (
        UniqueConstraint("period", "kind", "scheme_id", "generation", name="uq_scoring_ranking_generation"),
        {"info": OWN},
    )

    id: str = Field(primary_key=True, max_length=36)
    period: str = Field(max_length=10)
    kind: str = Field(max_length=20)
    scheme_id: str = Field(max_length=64)
    scheme_version: int
    generation: int
    supersedes: str | None = Field(default=None, max_length=36)
    as_of: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    published_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    published_by: str = Field(max_length=200)
    rows: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    bottom_named: list[str] = Field(sa_column=Column(JSON, nullable=False))
    penalized: list[str] = Field(sa_column=Column(JSON, nullable=False))
    # a correction published on an appeal's decision: {appeal_id, org_id, component, outcome, previous, corrected,
    # reasons}; None for a publication by the admin
    on_appeal: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # how far scoring had read each log it follows when it computed the table: [{feed, partition, position}];
    # None for rankings published before it was recorded (and for corrections on appeal, which recompute nothing)
    positions: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class Appeal(SQLModel, table=True):
    """An appeal (申诉) of a ranked unit against one component of its row, and the office's decision (复核)."""

    __tablename__ = "scoring_appeal"
    __table_args__ = (
        # one appeal per ranking, org and component: the second is refused (409)
        UniqueConstraint("ranking_id", "org_id", "component", name="uq_scoring_appeal_once"),
        {"info": OWN},
    )

    id: str = Field(primary_key=True, max_length=36)
    ranking_id: str = Field(max_length=36, index=True)
    period: str = Field(max_length=10)
    kind: str = Field(max_length=20)
    scheme_id: str = Field(max_length=64)
    org_id: str = Field(max_length=64, index=True)
    org_name: str | None = Field(default=None, max_length=200)
    component: str = Field(max_length=40)
    disputed_value: float
    reason: str = Field(sa_column=Column(Text, nullable=False))
    evidence_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    filed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    filed_by: str = Field(max_length=200)
    filed_on: date
    appeal_due: date
    decision_due: date
    status: str = Field(default="pending", max_length=20, index=True)  # pending, upheld, partly_upheld, refused
    reasons: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    previous: dict[str, float] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    correction: dict[str, float] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    corrected_ranking_id: str | None = Field(default=None, max_length=36)
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    decided_by: str | None = Field(default=None, max_length=200)
    decided_on: date | None = None
    late: bool = False


# ---------------------------------------------------------------- schemes


def default_scheme_row(now: datetime) -> SchemeVersion:
    """Version 1 of `default`: the design's weights; it exists before anyone stores a version."""
    d = domain.DEFAULT_SCHEME
    return SchemeVersion(id="default", version=1, weights=d["weights"], bottom_named=d["bottom_named"],
                         penalized=d["penalized"], penalty=d["penalty"], created_at=now, created_by="design",
                         milestone_missed_points=d["milestone_missed_points"],
                         appeal_days=d["appeal_days"], decision_days=d["decision_days"])


async def scheme_versions(session: AsyncSession, *, scheme_id: str) -> list[SchemeVersion]:
    """Every stored version of a scheme, oldest first (the default's first version even when never stored)."""
    rows = list((await session.execute(
        select(SchemeVersion).where(col(SchemeVersion.id) == scheme_id).order_by(col(SchemeVersion.version))
    )).scalars().all())
    if scheme_id == "default" and not any(r.version == 1 for r in rows):
        rows.insert(0, default_scheme_row(datetime.fromisoformat("2020-01-01T00:00:00+00:00")))
    return rows


async def get_scheme(session: AsyncSession, *, scheme_id: str, version: int | None = None) -> SchemeVersion | None:
    """One version of a scheme (the newest when none is named), or None."""
    rows = await scheme_versions(session, scheme_id=scheme_id)
    if version is None:
        return rows[-1] if rows else None
    return next((r for r in rows if r.version == version), None)


async def scheme_ids(session: AsyncSession) -> list[str]:
    """The ids of all schemes, `default` included."""
    ids = set((await session.execute(select(col(SchemeVersion.id)).distinct())).scalars().all())
    return sorted(ids | {"default"})


def to_domain_scheme(row: SchemeVersion) -> domain.Scheme:
    """The domain's view of a stored scheme version."""
    return domain.Scheme(scheme_id=row.id, version=row.version, weights=row.weights,
                         bottom_named=row.bottom_named, penalized=row.penalized, penalty=row.penalty,
                         milestone_missed_points=domain.DEFAULT_MILESTONE_POINTS
                         if row.milestone_missed_points is None else row.milestone_missed_points,
                         appeal_days=row.appeal_days, decision_days=row.decision_days)


# ---------------------------------------------------------------- facts


async def load_orgs(session: AsyncSession) -> list[domain.OrgFact]:
    """Every org scoring has heard of."""
    rows = (await session.execute(
        select(col(OrgFact.id), col(OrgFact.name), col(OrgFact.kind), col(OrgFact.zone_type)))).all()
    return [domain.OrgFact(org_id=i, name=n, kind=k, zone_type=z) for i, n, k, z in rows]


def _event(row: Any) -> domain.IssueEvent:
    ind = row[8]
    target = domain.Target(indicator=ind, op=row[9], value=row[10]) if ind is not None else None
    return domain.IssueEvent._make((*row[:8], target, *row[11:]))


# in the order of domain.IssueEvent's fields, the target's three before the status
_EVENT_COLUMNS = (col(IssueEventFact.event_id), col(IssueEventFact.issue_id), col(IssueEventFact.type),
                  col(IssueEventFact.time), col(IssueEventFact.source), col(IssueEventFact.seq),
                  col(IssueEventFact.org_id), col(IssueEventFact.deadline), col(IssueEventFact.target_indicator),
                  col(IssueEventFact.target_op), col(IssueEventFact.target_value), col(IssueEventFact.to_status),
                  col(IssueEventFact.recorded_at), col(IssueEventFact.parent_id), col(IssueEventFact.milestone_id),
                  col(IssueEventFact.outcome), col(IssueEventFact.review))


async def load_issue_events(session: AsyncSession, *, before: datetime | None = None,
                            recorded_before: datetime | None = None,
                            issue_id: str | None = None) -> list[domain.IssueEvent]:
    """Issue events in effect before `before` and recorded before `recorded_before` (each: all when None)."""
    query = select(*_EVENT_COLUMNS)
    if before is not None:
        query = query.where(col(IssueEventFact.time) < before)
    if recorded_before is not None:
        query = query.where(or_(col(IssueEventFact.recorded_at).is_(None),
                                col(IssueEventFact.recorded_at) < recorded_before))
    if issue_id is not None:
        query = query.where(col(IssueEventFact.issue_id) == issue_id)
    # Core, not ORM, execution: these are plain tuples, and there may be tens of thousands of them
    conn = await session.connection()
    return [_event(r) for r in (await conn.execute(query)).all()]


async def load_readings(session: AsyncSession, *, start: datetime, end: datetime) -> list[domain.Reading]:
    """Readings observed in [start, end)."""
    rows = (await session.execute(
        select(col(ReadingRow.id), col(ReadingRow.org_id), col(ReadingRow.indicator), col(ReadingRow.value),
               col(ReadingRow.observed_at), col(ReadingRow.recorded_at))
        .where(col(ReadingRow.observed_at) >= start, col(ReadingRow.observed_at) < end)
    )).all()
    return [domain.Reading(reading_id=i, org_id=o, indicator=ind, value=v, observed_at=at, recorded_at=rec)
            for i, o, ind, v, at, rec in rows]


async def known_org_ids(session: AsyncSession, *, ids: set[str]) -> set[str]:
    """Which of the ids are orgs scoring has heard of."""
    if not ids:
        return set()
    return set((await session.execute(select(col(OrgFact.id)).where(col(OrgFact.id).in_(ids)))).scalars().all())


async def known_indicators(session: AsyncSession, *, names: set[str]) -> set[str]:
    """Which of the names are indicators some issue target uses."""
    if not names:
        return set()
    found = (await session.execute(
        select(col(IssueEventFact.target_indicator)).where(col(IssueEventFact.target_indicator).in_(names)).distinct()
    )).scalars().all()
    return {name for name in found if name is not None}  # IN (names) never matches NULL


# ---------------------------------------------------------------- rankings


async def current_ranking(session: AsyncSession, *, period: str, kind: str, scheme_id: str) -> Ranking | None:
    """The newest publication for (period, kind, scheme), the one no other supersedes."""
    return (await session.execute(
        select(Ranking).where(col(Ranking.period) == period, col(Ranking.kind) == kind,
                              col(Ranking.scheme_id) == scheme_id)
        .order_by(col(Ranking.generation).desc()).limit(1)
    )).scalar_one_or_none()


async def superseded_by(session: AsyncSession, *, ids: list[str]) -> dict[str, str]:
    """For each ranking id that a later publication supersedes, that publication's id."""
    if not ids:
        return {}
    rows = (await session.execute(
        select(col(Ranking.supersedes), col(Ranking.id)).where(col(Ranking.supersedes).in_(ids))
    )).all()
    return {old: new for old, new in rows if old is not None}  # IN (ids) never matches NULL


async def get_ranking(session: AsyncSession, *, ranking_id: str) -> Ranking | None:
    """One published ranking by id."""
    return await session.get(Ranking, ranking_id)


async def page_rankings(session: AsyncSession, *, period: str | None, kind: str | None, scheme_id: str | None,
                        current: bool, cursor: str | None, limit: int) -> tuple[list[Ranking], str | None]:
    """A page of published rankings, newest first; `current` keeps only those no correction supersedes."""
    stmt = select(Ranking)
    for column, value in ((col(Ranking.period), period), (col(Ranking.kind), kind),
                          (col(Ranking.scheme_id), scheme_id)):
        if value:
            stmt = stmt.where(column == value)
    if current:
        later = Ranking.__table__.alias("later")  # type: ignore[attr-defined]  # __table__ is untyped in SQLModel
        stmt = stmt.where(~exists().where(later.c.supersedes == col(Ranking.id)))
    keys = [Key(col(Ranking.published_at), "published_at", datetime.fromisoformat, descending=True),
            Key(col(Ranking.id), "id", str, descending=True)]
    return await fetch_page(session, stmt, keys, cursor=cursor, limit=limit)


async def page_readings(session: AsyncSession, *, org_id: str | None, indicator: str | None,
                        start: datetime | None, end: datetime | None, cursor: str | None,
                        limit: int) -> tuple[list[ReadingRow], str | None]:
    """A page of readings, oldest observation first; `start` inclusive, `end` exclusive."""
    stmt = select(ReadingRow)
    if org_id:
        stmt = stmt.where(col(ReadingRow.org_id) == org_id)
    if indicator:
        stmt = stmt.where(col(ReadingRow.indicator) == indicator)
    if start is not None:
        stmt = stmt.where(col(ReadingRow.observed_at) >= start)
    if end is not None:
        stmt = stmt.where(col(ReadingRow.observed_at) < end)
    keys = [Key(col(ReadingRow.observed_at), "observed_at", datetime.fromisoformat),
            Key(col(ReadingRow.id), "id", str)]
    return await fetch_page(session, stmt, keys, cursor=cursor, limit=limit)


async def count_rows(session: AsyncSession, model: Any) -> int:
    """How many rows a table holds (tests check that refused input stored nothing)."""
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


class CalendarYearRow(SQLModel, table=True):
    """One year of the working-day calendar: seeded from chinese-calendar, corrected and extended by the admin."""

    __tablename__ = "scoring_calendar_year"
    __table_args__ = ({"info": OWN},)

    year: int = Field(primary_key=True)
    holidays: list[str] = Field(sa_column=Column(JSON, nullable=False))  # ISO dates
    workdays: list[str] = Field(sa_column=Column(JSON, nullable=False))
    source: str = Field(max_length=200)
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


def year_table(row: CalendarYearRow) -> YearCalendar:
    """A stored year as the calendar's rules read it."""
    return YearCalendar(year=row.year, holidays=frozenset(date.fromisoformat(d) for d in row.holidays),
                        workdays=frozenset(date.fromisoformat(d) for d in row.workdays))


async def work_calendar(session: AsyncSession) -> WorkCalendar:
    """Every year the calendar has a table for (appeal windows are computed from it)."""
    return WorkCalendar.of(year_table(r) for r in (await session.execute(select(CalendarYearRow))).scalars().all())


# ---------------------------------------------------------------- accountability clues


async def load_clue_facts(session: AsyncSession) -> list[Any]:
    """Every issue event fact with what the accountability rules read of it (plain rows, in no order)."""
    conn = await session.connection()
    rows = (await conn.execute(select(
        col(IssueEventFact.event_id), col(IssueEventFact.issue_id), col(IssueEventFact.type),
        col(IssueEventFact.source), col(IssueEventFact.seq), col(IssueEventFact.time), col(IssueEventFact.org_id),
        col(IssueEventFact.deadline), col(IssueEventFact.to_status), col(IssueEventFact.detail),
        col(IssueEventFact.code)))).all()
    return list(rows)


async def current_rankings(session: AsyncSession) -> list[Ranking]:
    """Every published ranking no correction supersedes, oldest publication first."""
    later = Ranking.__table__.alias("later")  # type: ignore[attr-defined]  # __table__ is untyped in SQLModel
    stmt = (select(Ranking).where(~exists().where(later.c.supersedes == col(Ranking.id)))
            .order_by(col(Ranking.published_at), col(Ranking.id)))
    return list((await session.execute(stmt)).scalars().all())


async def ranking_events(session: AsyncSession) -> dict[str, tuple[str, datetime]]:
    """ranking id → (id, time) of the ranking.published event that announced it (from this service's log)."""
    rows = (await session.execute(select(col(OutboxRow.envelope)).where(col(OutboxRow.type) == "ranking.published")
                                  )).scalars().all()
    out: dict[str, tuple[str, datetime]] = {}
    for text in rows:
        env = json.loads(text)
        out[str(env["data"]["ranking_id"])] = (str(env["id"]), datetime.fromisoformat(env["time"]))
    return out


# ---------------------------------------------------------------- appeals


async def find_appeal(session: AsyncSession, *, ranking_id: str, org_id: str, component: str) -> Appeal | None:
    """The appeal of an org against one component of a ranking, if it filed one."""
    return (await session.execute(select(Appeal).where(
        col(Appeal.ranking_id) == ranking_id, col(Appeal.org_id) == org_id, col(Appeal.component) == component)
    )).scalar_one_or_none()


async def page_appeals(session: AsyncSession, *, org_id: str | None, ranking_id: str | None, status: str | None,
                       period: str | None, kind: str | None, component: str | None, cursor: str | None,
                       limit: int) -> tuple[list[Appeal], str | None]:
    """A page of appeals, newest filing first."""
    stmt = select(Appeal)
    for column, value in ((col(Appeal.org_id), org_id), (col(Appeal.ranking_id), ranking_id),
                          (col(Appeal.status), status), (col(Appeal.period), period), (col(Appeal.kind), kind),
                          (col(Appeal.component), component)):
        if value is not None:
            stmt = stmt.where(column == value)
    keys = [Key(col(Appeal.filed_at), "filed_at", datetime.fromisoformat, descending=True),
            Key(col(Appeal.id), "id", str, descending=True)]
    return await fetch_page(session, stmt, keys, cursor=cursor, limit=limit)
