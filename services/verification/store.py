"""Tables of the verification service and keyword-only queries over them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from runtime.db import UTCDateTime

OWN = {"service": "verification"}


class KnownIssue(SQLModel, table=True):
    """What verification knows of an issue from issue.* events: who may apply and who decides."""

    __tablename__ = "verification_issue"
    __table_args__ = ({"info": OWN},)

    id: str = Field(primary_key=True, max_length=36)
    code: str = Field(max_length=64)
    round_id: str = Field(max_length=64)
    responsible_org_id: str = Field(max_length=64)
    cooperating_org_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    supervising_org_id: str = Field(max_length=64)
    status: str = Field(max_length=40)
    location: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    registered_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Evidence(SQLModel, table=True):
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
    note: str | None = Field(default=None, sa_column=Column(Text))
    flags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
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


async def known_issue(session: AsyncSession, *, issue_id: str, lock: bool = False) -> KnownIssue | None:
    """The issue as verification knows it."""
    stmt = select(KnownIssue).where(KnownIssue.id == issue_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def open_closure(session: AsyncSession, *, issue_id: str) -> Closure | None:
    """The issue's open application, if any."""
    stmt = select(Closure).where(Closure.issue_id == issue_id, Closure.state == "open")
    return (await session.execute(stmt)).scalar_one_or_none()
