"""Tables of the scoring service: the facts it keeps from consumed events."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from runtime.db import UTCDateTime

OWN = {"service": "scoring"}


class IssueFact(SQLModel, table=True):
    """An issue as scoring sees it: whose it is, when it is due, when it was signed off."""

    __tablename__ = "scoring_issue"
    __table_args__ = ({"info": OWN},)

    id: str = Field(primary_key=True, max_length=36)
    responsible_org_id: str = Field(max_length=64, index=True)
    deadline: date
    status: str = Field(max_length=40)
    registered_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    signed_off_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
