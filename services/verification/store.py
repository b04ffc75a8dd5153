"""Tables of the verification service and keyword-only queries over them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from contracts import lifecycle
from runtime.db import UTCDateTime
from runtime.pagination import Key, fetch_page

OWN = {"service": "verification"}
CLOSED_STATUSES = tuple(sorted(s.value for s in lifecycle.CLOSED))


class KnownIssue(SQLModel, table=True):
    """What verification knows of an issue from issue.* events: who may apply and who decides."""

    __tablename__ = "verification_issue"
    __table_args__ = (Index("ix_verification_issue_parent", "parent_id"), {"info": OWN})

    id: str = Field(primary_key=True, max_length=36)
    code: str = Field(max_length=64)
    round_id: str = Field(max_length=64)
    responsible_org_id: str = Field(max_length=64)
    cooperating_org_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    supervising_org_id: str = Field(max_length=64)
    # The status as the issues service last said (issue.registered, issue.status_changed), and the status this
    # service's own latest decision leads to while the issues service has not yet confirmed it (own_event_id).
    status: str = Field(max_length=40)
    own_status: str | None = Field(default=None, max_length=40)
    own_event_id: str | None = Field(default=None, max_length=36)
    location: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    registered_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    applications: int = 0
    rejections: int = 0
    reopenings: int = 0
    # 任务分解: the parent task (issue.registered's parent_id); a parent is not signed off while a sub-task is open
    parent_id: str | None = Field(default=None, max_length=36)
    # the strata of a re-inspection draw (抽查), and when the issue was last signed off (the draw's period)
    region_id: str | None = Field(default=None, max_length=64)
    category: str | None = Field(default=None, max_length=100)
    signed_off_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class KnownRound(SQLModel, table=True):
    """An inspection round as verification needs it: when its findings were fed back (before_issue)."""

    __tablename__ = "verification_round"
    __table_args__ = ({"info": OWN},)

    id: str = Field(primary_key=True, max_length=64)
    feedback_on: date | None = None


class Evidence(SQLModel, table=True):
    """One uploaded file of an issue: its content address, what the client said and what the file says."""

    __tablename__ = "verification_evidence"
    __table_args__ = ({"info": OWN},)

    id: str = Field(primary_key=True, max_length=36)
    issue_id: str = Field(max_length=36, index=True)
    kind: str = Field(max_length=20)
    sha256: str = Field(max_length=64, index=True)
    size: int
    media_type: str = Field(max_length=120)
    filename: str | None = Field(default=None, max_length=255)
    captured_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    latitude: float | None = None
    longitude: float | None = None
    exif_captured_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    exif_latitude: float | None = None
    exif_longitude: float | None = None
    phash: str | None = Field(default=None, max_length=16, index=True)
    note: str | None = Field(default=None, sa_column=Column(Text))
    flags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    flag_details: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    uploaded_by: str = Field(max_length=200)
    org_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Closure(SQLModel, table=True):
    """An application for sign-off (申请销号) and where it stands."""

    __tablename__ = "verification_closure"
    __table_args__ = ({"info": OWN},)

    id: str = Field(primary_key=True, max_length=36)
    issue_id: str = Field(max_length=36, index=True)
    responsible_org_id: str = Field(max_length=64)
    supervising_org_id: str = Field(max_length=64)
    summary: str = Field(sa_column=Column(Text, nullable=False))
    evidence_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    state: str = Field(max_length=20)  # open, accepted, rejected, filed
    attempt: int = 1
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    filed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    filed_by: str | None = Field(default=None, max_length=200)


class DecisionRecord(SQLModel, table=True):
    """A supervisor's decision with the evidence hashes as they were at the time."""

    __tablename__ = "verification_decision"
    __table_args__ = ({"info": OWN},)

    id: int | None = Field(default=None, primary_key=True)
    closure_id: str = Field(max_length=36, index=True)
    decision: str = Field(max_length=10)
    opinion: str | None = Field(default=None, sa_column=Column(Text))
    reason_code: str | None = Field(default=None, max_length=40)
    inspected_on: date | None = None
    evidence: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    decided_by: str = Field(max_length=200)
    decided_org: str | None = Field(default=None, max_length=64)
    decided_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Reopening(SQLModel, table=True):
    """A rebound (反弹): a signed-off or filed issue sent back to in_progress, with why and by whom."""

    __tablename__ = "verification_reopening"
    __table_args__ = ({"info": OWN},)

    id: str = Field(primary_key=True, max_length=36)
    issue_id: str = Field(max_length=36, index=True)
    closure_id: str | None = Field(default=None, max_length=36)
    from_status: str = Field(max_length=40)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    evidence_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    number: int = 1
    reopened_by: str = Field(max_length=200)
    reopened_org: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Sample(SQLModel, table=True):
    """A re-inspection draw (抽查) and the inputs it was computed from (as sample.drawn recorded them)."""

    __tablename__ = "verification_sample"
    __table_args__ = ({"info": OWN},)

    id: str = Field(primary_key=True, max_length=36)
    period: str = Field(max_length=10)
    scope: str = Field(max_length=10)
    basis: str = Field(max_length=10)
    share: str | None = Field(default=None, max_length=12)
    count: int | None = None
    stratify_by: str = Field(max_length=10)
    checkpoint: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    seed: str = Field(max_length=64)
    candidates: int
    strata: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    drawn_by: str = Field(max_length=200)
    drawn_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class SampleItem(SQLModel, table=True):
    """A drawn task and its re-inspection (pending until a supervisor of another org confirms or reopens it)."""

    __tablename__ = "verification_sample_item"
    __table_args__ = ({"info": OWN},)

    sample_id: str = Field(primary_key=True, max_length=36)
    issue_id: str = Field(primary_key=True, max_length=36, index=True)
    position: int
    stratum: str = Field(default="", max_length=100)
    code: str | None = Field(default=None, max_length=64)
    responsible_org_id: str = Field(max_length=64)
    supervising_org_id: str = Field(max_length=64)
    accepted_by_org_id: str | None = Field(default=None, max_length=64)
    accepted_by: str | None = Field(default=None, max_length=200)
    outcome: str | None = Field(default=None, max_length=20)  # None (pending), confirmed, rebound
    opinion: str | None = Field(default=None, sa_column=Column(Text))
    inspected_on: date | None = None
    evidence_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reinspected_by: str | None = Field(default=None, max_length=200)
    reinspector_org_id: str | None = Field(default=None, max_length=64)
    reinspected_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    reopening_id: str | None = Field(default=None, max_length=36)


async def known_issue(session: AsyncSession, *, issue_id: str, lock: bool = False) -> KnownIssue | None:
    """The issue as verification knows it."""
    stmt = select(KnownIssue).where(col(KnownIssue.id) == issue_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def open_closure(session: AsyncSession, *, issue_id: str) -> Closure | None:
    """The issue's open application, if any."""
    stmt = select(Closure).where(col(Closure.issue_id) == issue_id, col(Closure.state) == "open")
    return (await session.execute(stmt)).scalar_one_or_none()


async def accepted_closures(session: AsyncSession, *, issue_id: str) -> list[Closure]:
    """The issue's accepted applications not filed yet, the newest first."""
    stmt = (select(Closure).where(col(Closure.issue_id) == issue_id, col(Closure.state) == "accepted")
            .order_by(col(Closure.created_at).desc(), col(Closure.attempt).desc()))
    return list((await session.execute(stmt)).scalars().all())


async def last_accepted_closure(session: AsyncSession, *, issue_id: str) -> Closure | None:
    """The issue's most recent accepted or filed application."""
    stmt = (select(Closure).where(col(Closure.issue_id) == issue_id, col(Closure.state).in_(("accepted", "filed")))
            .order_by(col(Closure.created_at).desc(), col(Closure.attempt).desc()))
    return (await session.execute(stmt)).scalars().first()


async def evidence_with_sha(session: AsyncSession, *, sha256: str, other_than_issue: str) -> list[Evidence]:
    """Evidence with this content that belongs to other issues."""
    stmt = select(Evidence).where(col(Evidence.sha256) == sha256, col(Evidence.issue_id) != other_than_issue)
    return list((await session.execute(stmt)).scalars().all())


async def image_hashes(session: AsyncSession, *, other_than_issue: str) -> list[tuple[str, str, str]]:
    """(evidence id, issue id, pHash) of every image of other issues."""
    stmt = select(col(Evidence.id), col(Evidence.issue_id), col(Evidence.phash)).where(
        col(Evidence.phash).is_not(None), col(Evidence.issue_id) != other_than_issue)
    return [(a, b, c) for a, b, c in (await session.execute(stmt)).all() if c is not None]  # none is: see the WHERE


async def visible_issue_ids(session: AsyncSession, *, org: str) -> list[str]:
    """Ids of the issues an org is responsible for, supervises or cooperates on."""
    rows = (await session.execute(select(col(KnownIssue.id), col(KnownIssue.responsible_org_id),
                                         col(KnownIssue.supervising_org_id), col(KnownIssue.cooperating_org_ids)))).all()
    return [i for i, r, s, c in rows if org in (r, s) or org in (c or [])]


async def decisions_of(session: AsyncSession, *, closure_id: str) -> list[DecisionRecord]:
    """An application's decisions in the order they were taken."""
    stmt = (select(DecisionRecord).where(col(DecisionRecord.closure_id) == closure_id)
            .order_by(col(DecisionRecord.id)))
    return list((await session.execute(stmt)).scalars().all())


async def get_evidence(session: AsyncSession, *, evidence_id: str) -> Evidence | None:
    """One evidence record by id."""
    return await session.get(Evidence, evidence_id)


async def get_closure(session: AsyncSession, *, closure_id: str, lock: bool = False) -> Closure | None:
    """One application by id, optionally locked for update."""
    return await session.get(Closure, closure_id, with_for_update=lock or None)


def _by_creation(model: type[Evidence | Closure]) -> list[Key]:
    return [Key(col(model.created_at), "created_at", datetime.fromisoformat), Key(col(model.id), "id")]


async def page_evidence(session: AsyncSession, *, issue_id: str, cursor: str | None,
                        limit: int) -> tuple[list[Evidence], str | None]:
    """A page of an issue's evidence, oldest first."""
    stmt = select(Evidence).where(col(Evidence.issue_id) == issue_id)
    return await fetch_page(session, stmt, _by_creation(Evidence), cursor=cursor, limit=limit)


async def page_closures(session: AsyncSession, *, visible_to: str | None, sees_all: bool, issue_id: str | None,
                        state: str | None, responsible_org_id: str | None, supervising_org_id: str | None,
                        cursor: str | None, limit: int) -> tuple[list[Closure], str | None]:
    """A page of the applications the caller may see that the filters keep, oldest first."""
    stmt = select(Closure)
    if not sees_all:
        ids = await visible_issue_ids(session, org=visible_to) if visible_to else []
        stmt = stmt.where(col(Closure.issue_id).in_(ids))
    for column, value in ((col(Closure.issue_id), issue_id), (col(Closure.state), state),
                          (col(Closure.responsible_org_id), responsible_org_id),
                          (col(Closure.supervising_org_id), supervising_org_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    return await fetch_page(session, stmt, _by_creation(Closure), cursor=cursor, limit=limit)


async def page_reopenings(session: AsyncSession, *, issue_id: str, cursor: str | None,
                          limit: int) -> tuple[list[Reopening], str | None]:
    """A page of an issue's rebounds in the order they happened."""
    stmt = select(Reopening).where(col(Reopening.issue_id) == issue_id)
    return await fetch_page(session, stmt, [Key(col(Reopening.number), "number", int)], cursor=cursor, limit=limit)


async def open_children(session: AsyncSession, *, issue_id: str, closed: frozenset[str],
                        limit: int = 20) -> list[str]:
    """The codes of an issue's sub-tasks not signed off or filed (at most `limit`), by code."""
    rows = await session.execute(select(col(KnownIssue.code)).where(
        col(KnownIssue.parent_id) == issue_id, col(KnownIssue.status).not_in(sorted(closed)))
        .order_by(col(KnownIssue.code)).limit(limit))
    return [str(c) for c in rows.scalars().all()]


async def closed_issues(session: AsyncSession) -> list[KnownIssue]:
    """Every issue signed off or filed as this service sees it (its own decisions included), by id."""
    stmt = select(KnownIssue).where(or_(col(KnownIssue.status).in_(CLOSED_STATUSES),
                                        col(KnownIssue.own_status).in_(CLOSED_STATUSES)))
    rows = list((await session.execute(stmt.order_by(col(KnownIssue.id)))).scalars().all())
    return [r for r in rows if (r.own_status or r.status) in CLOSED_STATUSES]


async def last_acceptance(session: AsyncSession, *, issue_id: str) -> DecisionRecord | None:
    """The decision that accepted the issue's most recent accepted or filed application."""
    closure = await last_accepted_closure(session, issue_id=issue_id)
    if closure is None:
        return None
    stmt = (select(DecisionRecord).where(col(DecisionRecord.closure_id) == closure.id,
                                         col(DecisionRecord.decision) == "accept")
            .order_by(col(DecisionRecord.id).desc()))
    return (await session.execute(stmt)).scalars().first()


async def get_sample(session: AsyncSession, *, sample_id: str) -> Sample | None:
    """One draw by id."""
    return await session.get(Sample, sample_id)


async def sample_items(session: AsyncSession, *, sample_id: str) -> list[SampleItem]:
    """A draw's tasks in draw order."""
    stmt = select(SampleItem).where(col(SampleItem.sample_id) == sample_id).order_by(col(SampleItem.position))
    return list((await session.execute(stmt)).scalars().all())


async def get_sample_item(session: AsyncSession, *, sample_id: str, issue_id: str,
                          lock: bool = False) -> SampleItem | None:
    """One drawn task of a draw, optionally locked for its re-inspection."""
    return await session.get(SampleItem, (sample_id, issue_id), with_for_update=lock or None)


async def pending_items_of(session: AsyncSession, *, issue_id: str) -> list[SampleItem]:
    """The issue's drawn tasks still waiting for their re-inspection."""
    stmt = select(SampleItem).where(col(SampleItem.issue_id) == issue_id, col(SampleItem.outcome).is_(None))
    return list((await session.execute(stmt)).scalars().all())


async def page_samples(session: AsyncSession, *, period: str | None, cursor: str | None,
                       limit: int) -> tuple[list[Sample], str | None]:
    """A page of draws, newest first."""
    stmt = select(Sample)
    if period:
        stmt = stmt.where(col(Sample.period) == period)
    keys = [Key(col(Sample.drawn_at), "drawn_at", datetime.fromisoformat, descending=True),
            Key(col(Sample.id), "id", str, descending=True)]
    return await fetch_page(session, stmt, keys, cursor=cursor, limit=limit)
