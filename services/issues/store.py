"""Tables of the issues service and keyword-only queries over them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, TypeVarTuple

from sqlalchemy import (
    JSON,
    Column,
    Index,
    Integer,
    RowMapping,
    Text,
    UniqueConstraint,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    not_,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement, Select
from sqlmodel import Field, SQLModel, col

from contracts.lifecycle import ESCALATE_AFTER_DAYS
from runtime.db import UTCDateTime
from runtime.pagination import Key, fetch_page
from services.issues.domain_time import CLOSED

OWN = {"service": "issues"}


class Org(SQLModel, table=True):
    __tablename__ = "issues_org"
    __table_args__ = ({"info": OWN},)

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=40)
    zone_type: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Round(SQLModel, table=True):
    __tablename__ = "issues_round"
    __table_args__ = ({"info": OWN},)

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    level: str = Field(max_length=40)
    started_on: date | None = None
    ended_on: date | None = None
    feedback_on: date | None = None
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Issue(SQLModel, table=True):
    __tablename__ = "issues_issue"
    # Every list filter is an equality followed by the (deadline, id) keyset, so each gets a composite index.
    # On PostgreSQL the initial migration adds trigram (GIN) indexes on code and title for `q`.
    __table_args__ = (
        UniqueConstraint("round_id", "code", name="uq_issue_round_code"),
        Index("ix_issue_deadline_id", "deadline", "id"),
        Index("ix_issue_status_deadline", "status", "deadline", "id"),
        Index("ix_issue_responsible_deadline", "responsible_org_id", "deadline", "id"),
        Index("ix_issue_supervising_deadline", "supervising_org_id", "deadline", "id"),
        Index("ix_issue_region_deadline", "region_id", "deadline", "id"),
        Index("ix_issue_category_deadline", "category", "deadline", "id"),
        Index("ix_issue_parent_deadline", "parent_id", "deadline", "id"),
        {"info": OWN},
    )

    id: str = Field(primary_key=True, max_length=36)
    code: str = Field(max_length=64)
    round_id: str = Field(max_length=64, foreign_key="issues_round.id")
    category: str = Field(max_length=40)
    title: str = Field(sa_column=Column(Text, nullable=False))
    description: str | None = Field(default=None, sa_column=Column(Text))
    region_id: str | None = Field(default=None, max_length=64)
    responsible_org_id: str = Field(max_length=64)
    cooperating_org_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    supervising_org_id: str = Field(max_length=64)
    leader: str | None = Field(default=None, max_length=200)
    deadline: date
    original_deadline: date
    target: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    measures: str | None = Field(default=None, sa_column=Column(Text))
    location: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    status: str = Field(max_length=40)
    last_progress_percent: int | None = None
    last_progress_note: str | None = Field(default=None, sa_column=Column(Text))
    last_progress_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # 任务分解: the parent task, the level in the tree (a root is 1), and what the sub-tasks say (kept current
    # whenever a sub-task's status or progress moves: services.issues.domain.derived_percent)
    parent_id: str | None = Field(default=None, max_length=36)
    depth: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))
    children_total: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    children_open: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    derived_percent: int | None = None


class Milestone(SQLModel, table=True):
    """A dated milestone (重要节点) of a task, its last report by the responsible unit and the supervisor's review.

    state: pending (nothing reported, or a report disputed: `disputed` then), reported (awaiting review),
    confirmed (the report stands).
    """

    __tablename__ = "issues_milestone"
    __table_args__ = (Index("ix_milestone_issue_due", "issue_id", "due_on"), {"info": OWN})

    id: str = Field(primary_key=True, max_length=36)
    issue_id: str = Field(max_length=36, foreign_key="issues_issue.id")
    due_on: date
    description: str = Field(sa_column=Column(Text, nullable=False))
    target: str | None = Field(default=None, max_length=200)
    state: str = Field(max_length=20)
    outcome: str | None = Field(default=None, max_length=20)
    note: str | None = Field(default=None, sa_column=Column(Text))
    evidence_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reported_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    reported_by: str | None = Field(default=None, max_length=200)
    reported_event_id: str | None = Field(default=None, max_length=36)
    # when the standing report of "met" was made (cleared when that report is disputed): the milestone was met on
    # time when this is by the end of due_on in Asia/Shanghai (services.issues.domain.milestone_missed)
    met_reported_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    disputed: bool = Field(default=False)
    reviewed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    reviewed_by: str | None = Field(default=None, max_length=200)
    opinion: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class EvidenceRef(SQLModel, table=True):
    """An evidence file the verification service accepted for an issue (from evidence.submitted): what a progress
    report may name."""

    __tablename__ = "issues_evidence"
    __table_args__ = ({"info": OWN},)

    evidence_id: str = Field(primary_key=True, max_length=64)
    issue_id: str = Field(max_length=36, index=True)
    org_id: str | None = Field(default=None, max_length=64)


class Party(SQLModel, table=True):
    """One row per org taking part in an issue (relations: responsible, cooperating, supervising): the scope.

    It carries the issue's deadline so that a scoped page is one ordered range of (org_id, deadline, issue_id).
    """

    __tablename__ = "issues_party"
    __table_args__ = (Index("ix_party_org_deadline", "org_id", "deadline", "issue_id"),
                      Index("ix_party_issue", "issue_id"), {"info": OWN})

    org_id: str = Field(primary_key=True, max_length=64)
    issue_id: str = Field(primary_key=True, max_length=36, foreign_key="issues_issue.id")
    relations: str = Field(max_length=80)
    deadline: date


class Extension(SQLModel, table=True):
    """A deadline extension request (延期) and the admin's decision."""

    __tablename__ = "issues_extension"
    __table_args__ = (Index("ix_extension_issue", "issue_id"), {"info": OWN})

    id: str = Field(primary_key=True, max_length=36)
    issue_id: str = Field(max_length=36, foreign_key="issues_issue.id")
    current_deadline: date
    requested_deadline: date
    reason: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(max_length=20)  # pending, approved, refused
    requested_by: str = Field(max_length=200)
    requested_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    decided_by: str | None = Field(default=None, max_length=200)
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    opinion: str | None = Field(default=None, sa_column=Column(Text))


class Transition(SQLModel, table=True):
    """One step of an issue's history: who, when, what, why."""

    __tablename__ = "issues_transition"
    __table_args__ = ({"info": OWN},)

    id: int | None = Field(default=None, primary_key=True)
    issue_id: str = Field(max_length=36, foreign_key="issues_issue.id", index=True)
    action: str = Field(max_length=40)
    from_status: str | None = Field(default=None, max_length=40)
    to_status: str = Field(max_length=40)
    actor_user: str = Field(max_length=200)
    actor_org: str | None = Field(default=None, max_length=64)
    actor_role: str = Field(max_length=40)
    reason: str | None = Field(default=None, sa_column=Column(Text))
    details: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    event_id: str = Field(max_length=36)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


async def get_org(session: AsyncSession, *, org_id: str) -> Org | None:
    """One org by id."""
    return await session.get(Org, org_id)


async def get_issue(session: AsyncSession, *, issue_id: str, lock: bool = False) -> Issue | None:
    """One issue by id, optionally locked for update."""
    stmt = select(Issue).where(col(Issue.id) == issue_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def history(session: AsyncSession, *, issue_id: str) -> list[Transition]:
    """The transitions of an issue, oldest first."""
    rows = await session.execute(
        select(Transition).where(col(Transition.issue_id) == issue_id).order_by(col(Transition.id)))
    return list(rows.scalars().all())


async def extensions(session: AsyncSession, *, issue_id: str) -> list[Extension]:
    """The extension requests of an issue, oldest first."""
    rows = await session.execute(
        select(Extension).where(col(Extension.issue_id) == issue_id)
        .order_by(col(Extension.requested_at), col(Extension.id)))
    return list(rows.scalars().all())


def parties_of(*, issue_id: str, responsible: str, cooperating: Sequence[str], supervising: str,
               deadline: date) -> list[dict[str, Any]]:
    """The scoping rows of one issue, one per org."""
    relations: dict[str, list[str]] = {}
    for org, relation in ((responsible, "responsible"), *((c, "cooperating") for c in cooperating),
                          (supervising, "supervising")):
        relations.setdefault(org, []).append(relation)
    return [{"org_id": org, "issue_id": issue_id, "relations": ",".join(rel), "deadline": deadline}
            for org, rel in sorted(relations.items())]


async def replace_parties(session: AsyncSession, *, issue: Issue) -> None:
    """Rewrite an issue's scoping rows after a reassignment or a new deadline."""
    await session.execute(delete(Party).where(col(Party.issue_id) == issue.id))
    await session.execute(insert(Party.__table__), parties_of(  # type: ignore[attr-defined]  # __table__ is untyped in SQLModel
        issue_id=issue.id, responsible=issue.responsible_org_id, cooperating=issue.cooperating_org_ids,
        supervising=issue.supervising_org_id, deadline=issue.deadline))


# ---- listing ------------------------------------------------------------------------------------------------

Ts = TypeVarTuple("Ts")


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def overdue_on(today: date) -> ColumnElement[bool]:
    """Open and past its deadline on `today` (SQL)."""
    return and_(col(Issue.deadline) < today, col(Issue.status).not_in(sorted(CLOSED)))


def escalated_on(today: date) -> ColumnElement[bool]:
    """Open and overdue more than ESCALATE_AFTER_DAYS whole days on `today` (SQL)."""
    return and_(col(Issue.deadline) < today - timedelta(days=ESCALATE_AFTER_DAYS),
                col(Issue.status).not_in(sorted(CLOSED)))


def filtered(stmt: Select[*Ts], *, visible_to: str | None, sees_all: bool, today: date,
             status: str | None = None, responsible_org_id: str | None = None,
             supervising_org_id: str | None = None, region_id: str | None = None, category: str | None = None,
             round_id: str | None = None, overdue: bool | None = None, escalated: bool | None = None,
             q: str | None = None, parent_id: str | None = None, roots_only: bool | None = None,
             moved_in: bool | None = None) -> Select[*Ts]:
    """Add the caller's scope and the list filters to a select over Issue, all in SQL."""
    if not sees_all:
        stmt = stmt.join(Party, and_(col(Party.issue_id) == Issue.id,
                                     col(Party.org_id) == (visible_to or "\x00")))
    for column, value in ((col(Issue.status), status), (col(Issue.responsible_org_id), responsible_org_id),
                          (col(Issue.supervising_org_id), supervising_org_id), (col(Issue.region_id), region_id),
                          (col(Issue.category), category), (col(Issue.round_id), round_id),
                          (col(Issue.parent_id), parent_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    if roots_only:
        stmt = stmt.where(col(Issue.parent_id).is_(None))
    if overdue is not None:
        late = overdue_on(today)
        stmt = stmt.where(late if overdue else not_(late))
    if escalated is not None:
        long_late = escalated_on(today)
        stmt = stmt.where(long_late if escalated else not_(long_late))
    if moved_in is not None:
        stmt = stmt.where(status_moved_in() if moved_in else not_(status_moved_in()))
    if q:
        pattern = _like(q)
        stmt = stmt.where(or_(col(Issue.code).ilike(pattern, escape="\\"),
                              col(Issue.title).ilike(pattern, escape="\\")))
    return stmt


def status_moved_in() -> ColumnElement[bool]:
    """Whether an issue's current status came from a ledger import (台账迁入): one of the import's status moves (their
    transitions say `moved_in`) is its last status move, so nothing here has moved it since."""
    moved, later = aliased(Transition), aliased(Transition)

    def moves(t: Any) -> ColumnElement[bool]:
        return or_(col(t.from_status).is_(None), col(t.from_status) != col(t.to_status))

    since = exists().where(col(later.issue_id) == col(moved.issue_id), col(later.id) > col(moved.id), moves(later))
    return exists().where(col(moved.issue_id) == Issue.id, moves(moved),
                          col(moved.details)["moved_in"].as_boolean().is_(True), not_(since))


def by_deadline(*, scoped: bool, descending: bool = False) -> list[Key]:
    """The (deadline, id) keyset of issue lists; a scoped select orders by its party row's copy of both."""
    day_col, id_col = ((col(Party.deadline), col(Party.issue_id)) if scoped
                       else (col(Issue.deadline), col(Issue.id)))
    return [Key(day_col, "deadline", date.fromisoformat, descending), Key(id_col, "id", str, descending)]


async def page_issues(session: AsyncSession, *, visible_to: str | None, sees_all: bool, today: date,
                      filters: Mapping[str, Any], cursor: str | None, limit: int,
                      descending: bool = False) -> tuple[list[RowMapping], str | None]:
    """A page of the issues the caller may see, as plain rows (read-only, the hottest path of the service)."""
    stmt = filtered(select(*Issue.__table__.c), visible_to=visible_to, sees_all=sees_all,  # type: ignore[attr-defined]  # __table__ is untyped in SQLModel
                    today=today, **filters)
    return await fetch_page(session, stmt, by_deadline(scoped=not sees_all, descending=descending),
                            cursor=cursor, limit=limit, rows="mappings")


async def count_issues(session: AsyncSession, *, visible_to: str | None, sees_all: bool, today: date,
                       filters: Mapping[str, Any]) -> Sequence[RowMapping]:
    """The caller's issues counted by (status, category, region), with how many of each are due and overdue."""
    due = col(Issue.deadline) < today
    late, long_late = overdue_on(today), escalated_on(today)
    stmt: Select[*tuple[Any, ...]] = filtered(select(col(Issue.status).label("status"), col(Issue.category).label("category"),
                           col(Issue.region_id).label("region_id"), func.count().label("n"),
                           func.sum(case((due, 1), else_=0)).label("due"),
                           func.sum(case((late, 1), else_=0)).label("overdue"),
                           func.sum(case((long_late, 1), else_=0)).label("escalated")),
                    visible_to=visible_to, sees_all=sees_all, today=today, **filters)
    stmt = stmt.group_by(col(Issue.status), col(Issue.category), col(Issue.region_id))
    return (await session.execute(stmt)).mappings().all()


async def targets_of(session: AsyncSession, *, visible_to: str | None, sees_all: bool, today: date,
                     filters: Mapping[str, Any], limit: int) -> list[dict[str, Any]]:
    """The measurable targets of the caller's issues (those that carry one), by code, at most `limit`."""
    stmt: Select[*tuple[Any, ...]] = filtered(
        select(col(Issue.id), col(Issue.code), col(Issue.title), col(Issue.target), col(Issue.responsible_org_id)),
        visible_to=visible_to, sees_all=sees_all, today=today, **filters)
    rows = (await session.execute(stmt.order_by(col(Issue.code), col(Issue.id)))).all()
    out = [{**row.target, "issue_id": row.id, "code": row.code, "title": row.title,
            "responsible_org_id": row.responsible_org_id} for row in rows if row.target]
    return out[:limit]


async def issues_for_export(session: AsyncSession, *, visible_to: str | None, sees_all: bool, today: date,
                            filters: Mapping[str, Any], limit: int) -> list[Issue]:
    """Every issue the caller may see that the filters keep, by deadline, at most `limit`."""
    stmt = filtered(select(Issue), visible_to=visible_to, sees_all=sees_all, today=today, **filters)
    keys = by_deadline(scoped=not sees_all)
    return list((await session.execute(stmt.order_by(*(k.column for k in keys)).limit(limit))).scalars().all())


async def page_public_issues(session: AsyncSession, *, today: date, status: str | None, category: str | None,
                             region_id: str | None, q: str | None, cursor: str | None,
                             limit: int) -> tuple[list[RowMapping], str | None]:
    """A page of the public view: each issue with its region's and responsible org's names."""
    region, responsible = aliased(Org), aliased(Org)
    stmt: Select[*tuple[Any, ...]] = select(col(Issue.code).label("code"), col(Issue.title).label("title"),
                  col(Issue.category).label("category"), col(region.name).label("region"),
                  col(Issue.region_id).label("region_id"),
                  col(responsible.name).label("responsible_org"), col(Issue.deadline).label("deadline"),
                  col(Issue.status).label("status"), col(Issue.id).label("id"))
    stmt = stmt.outerjoin(region, col(region.id) == Issue.region_id).outerjoin(
        responsible, col(responsible.id) == Issue.responsible_org_id)
    stmt = filtered(stmt, visible_to=None, sees_all=True, today=today, status=status, category=category,
                    region_id=region_id, q=q)
    return await fetch_page(session, stmt, by_deadline(scoped=False), cursor=cursor, limit=limit, rows="mappings")


async def names_by_id(session: AsyncSession) -> tuple[dict[str, str], dict[str, str]]:
    """Every org's and every round's name by id (the export shows names, not ids)."""
    orgs: dict[str, str] = dict((await session.execute(select(col(Org.id), col(Org.name)))).all())
    rounds: dict[str, str] = dict((await session.execute(select(col(Round.id), col(Round.name)))).all())
    return orgs, rounds


async def page_orgs(session: AsyncSession, *, cursor: str | None, limit: int) -> tuple[list[Org], str | None]:
    """A page of orgs in id order."""
    return await fetch_page(session, select(Org), [Key(col(Org.id), "id")], cursor=cursor, limit=limit)


async def page_rounds(session: AsyncSession, *, cursor: str | None, limit: int) -> tuple[list[Round], str | None]:
    """A page of inspection rounds in id order."""
    return await fetch_page(session, select(Round), [Key(col(Round.id), "id")], cursor=cursor, limit=limit)


async def get_round(session: AsyncSession, *, round_id: str) -> Round | None:
    """One inspection round by id."""
    return await session.get(Round, round_id)


async def get_extension(session: AsyncSession, *, extension_id: str) -> Extension | None:
    """One extension request by id."""
    return await session.get(Extension, extension_id)


async def children_of(session: AsyncSession, *, issue_id: str, limit: int) -> list[Issue]:
    """The direct sub-tasks of a task, by deadline and code."""
    rows = await session.execute(select(Issue).where(col(Issue.parent_id) == issue_id)
                                 .order_by(col(Issue.deadline), col(Issue.code)).limit(limit))
    return list(rows.scalars().all())


async def codes_by_id(session: AsyncSession, *, ids: set[str]) -> dict[str, str]:
    """The codes of these tasks (the export names a parent by its code)."""
    out: dict[str, str] = {}
    ordered = sorted(ids)
    for i in range(0, len(ordered), 5000):
        rows = await session.execute(
            select(col(Issue.id), col(Issue.code)).where(col(Issue.id).in_(ordered[i:i + 5000])))
        out.update({str(k): str(v) for k, v in rows.all()})
    return out


async def parents_by_code(session: AsyncSession, *, round_codes: set[tuple[str, str]]) -> dict[tuple[str, str], Issue]:
    """Registered tasks named as parents by a ledger, by (round, code)."""
    out: dict[tuple[str, str], Issue] = {}
    codes = sorted({c for _, c in round_codes})
    rounds = sorted({r for r, _ in round_codes})
    for i in range(0, len(codes), 5000):
        rows = await session.execute(select(Issue).where(col(Issue.round_id).in_(rounds),
                                                         col(Issue.code).in_(codes[i:i + 5000])))
        for issue in rows.scalars().all():
            if (issue.round_id, issue.code) in round_codes:
                out[(issue.round_id, issue.code)] = issue
    return out
