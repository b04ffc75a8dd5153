"""Tables of the notify service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from runtime.db import UTCDateTime

OWN = {"service": "notify"}


class InboxItem(SQLModel, table=True):
    """One notice in an org's in-app inbox; unique per (trigger key, recipient) so redelivery adds nothing."""

    __tablename__ = "notify_inbox"
    __table_args__ = (UniqueConstraint("dedupe_key", "org_id", name="uq_notify_inbox_once"), {"info": OWN})

    id: str = Field(primary_key=True, max_length=36)
    org_id: str = Field(max_length=64, index=True)
    type: str = Field(max_length=60)
    subject: str = Field(max_length=200)
    title: str = Field(max_length=500)
    body: str = Field(sa_column=Column(Text, nullable=False))
    dedupe_key: str = Field(max_length=200)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    read_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
