"""Tables of the issues service and keyword-only queries over them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from runtime.db import UTCDateTime

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
    __table_args__ = (
        UniqueConstraint("round_id", "code", name="uq_issue_round_code"),
        Index("ix_issue_status_deadline", "status", "deadline"),
        {"info": OWN},
    )

    id: str = Field(primary_key=True, max_length=36)
    code: str = Field(max_length=64)
    round_id: str = Field(max_length=64, foreign_key="issues_round.id")
    category: str = Field(max_length=40)
    title: str = Field(sa_column=Column(Text, nullable=False))
    description: str | None = Field(default=None, sa_column=Column(Text))
    region_id: str | None = Field(default=None, max_length=64)
    responsible_org_id: str = Field(max_length=64, index=True)
    cooperating_org_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    supervising_org_id: str = Field(max_length=64, index=True)
    leader: str | None = Field(default=None, max_length=200)
    deadline: date = Field(index=True)
    target: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    measures: str | None = Field(default=None, sa_column=Column(Text))
    location: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    status: str = Field(max_length=40)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


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
    event_id: str = Field(max_length=36)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


async def get_org(session: AsyncSession, *, org_id: str) -> Org | None:
    """One org by id."""
    return await session.get(Org, org_id)


async def get_issue(session: AsyncSession, *, issue_id: str, lock: bool = False) -> Issue | None:
    """One issue by id, optionally locked for update."""
    stmt = select(Issue).where(Issue.id == issue_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def history(session: AsyncSession, *, issue_id: str) -> list[Transition]:
    """The transitions of an issue, oldest first."""
    rows = await session.execute(select(Transition).where(Transition.issue_id == issue_id).order_by(Transition.id))
    return list(rows.scalars().all())
