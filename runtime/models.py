"""Tables every service has: outbox (its log), subject heads, log state, inbox, cursors, dead letters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from runtime.db import UTCDateTime

SHARED = {"service": "*"}


class OutboxRow(SQLModel, table=True):
    """An event committed with the state change that caused it; `position` is its place in the log."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("subject", "seq", name="uq_outbox_subject_seq"),
        Index("ix_outbox_unsequenced", "position", "id"),
        {"info": SHARED},
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=36, unique=True)
    type: str = Field(max_length=120)
    subject: str = Field(max_length=200)
    seq: int
    time: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    envelope: str = Field(sa_column=Column(Text, nullable=False))
    position: int | None = Field(default=None, unique=True)
    log_hash: str | None = Field(default=None, max_length=64)


class SubjectHead(SQLModel, table=True):
    """The last seq and hash of each subject's chain: locked while appending."""

    __tablename__ = "subject_head"
    __table_args__ = ({"info": SHARED},)

    subject: str = Field(primary_key=True, max_length=200)
    seq: int
    hash: str = Field(max_length=64)


class LogState(SQLModel, table=True):
    """One row: how far the log is sequenced, its running hash, and how far it is published to Kafka."""

    __tablename__ = "log_state"
    __table_args__ = ({"info": SHARED},)

    id: int = Field(default=1, primary_key=True)
    position: int = 0
    log_hash: str = Field(default="0" * 64, max_length=64)
    published: int = 0


class InboxRow(SQLModel, table=True):
    """An event a consumer has handled; written in the same transaction as the handler's effects."""

    __tablename__ = "inbox"
    __table_args__ = ({"info": SHARED},)

    consumer: str = Field(primary_key=True, max_length=60)
    event_id: str = Field(primary_key=True, max_length=36)
    type: str = Field(max_length=120)
    processed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class FeedCursor(SQLModel, table=True):
    """How far an embedded consumer has read a peer's log."""

    __tablename__ = "feed_cursor"
    __table_args__ = ({"info": SHARED},)

    consumer: str = Field(primary_key=True, max_length=60)
    feed: str = Field(primary_key=True, max_length=60)
    position: int = 0


class DeadLetter(SQLModel, table=True):
    """A message a consumer could not handle, with the error and where it came from."""

    __tablename__ = "dead_letter"
    __table_args__ = ({"info": SHARED},)

    id: int | None = Field(default=None, primary_key=True)
    consumer: str = Field(max_length=60)
    event_id: str | None = Field(default=None, max_length=36)
    type: str | None = Field(default=None, max_length=120)
    origin: str = Field(max_length=200)
    error: str = Field(sa_column=Column(Text, nullable=False))
    payload: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    redriven_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    redrive_outcome: str | None = Field(default=None, max_length=20)


class Checkpoint(SQLModel, table=True):
    """A signed statement of the log: its size and root hash at a moment (see runtime.checkpoints)."""

    __tablename__ = "checkpoint"
    __table_args__ = ({"info": SHARED},)

    id: int | None = Field(default=None, primary_key=True)
    size: int = Field(unique=True)
    root: str = Field(max_length=64)
    time: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    key_id: str = Field(max_length=64)
    signature: str = Field(max_length=200)


class ParkedEvent(SQLModel, table=True):
    """An event about something its consumer does not know yet (e.g. an issue not yet registered there), kept
    in the handler's transaction and applied when that arrives, so the order of topics never loses a fact."""

    __tablename__ = "parked_event"
    __table_args__ = (
        UniqueConstraint("consumer", "event_id", name="uq_parked_event_consumer_event"),
        Index("ix_parked_event_key", "consumer", "key", "id"),
        {"info": SHARED},
    )

    id: int | None = Field(default=None, primary_key=True)
    consumer: str = Field(max_length=60)
    key: str = Field(max_length=200)
    event_id: str = Field(max_length=36)
    type: str = Field(max_length=120)
    envelope: str = Field(sa_column=Column(Text, nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    parked_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
