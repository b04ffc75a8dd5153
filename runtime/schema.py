"""The runtime's own tables (outbox, subject heads, log state, inbox, feed cursors, dead letters, checkpoints),
created and dropped by every service's migration history from this one definition.

Each service has its own database and its own alembic history (services/<service>/migrations); the tables of
runtime/models.py stand in all four. Their initial migrations call `create_shared_tables()` and
`drop_shared_tables()` instead of repeating the DDL. A later change to a runtime table is written once here
as a new pair of functions and called from one new revision per service.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

import runtime.db


def create_shared_tables() -> None:
    """Create the runtime's tables (as of the services' initial schema)."""
    op.create_table(
        "checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("root", AutoString(length=64), nullable=False),
        sa.Column("time", runtime.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("key_id", AutoString(length=64), nullable=False),
        sa.Column("signature", AutoString(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("size"),
        info={"service": "*"},
    )
    op.create_table(
        "dead_letter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consumer", AutoString(length=60), nullable=False),
        sa.Column("event_id", AutoString(length=36), nullable=True),
        sa.Column("type", AutoString(length=120), nullable=True),
        sa.Column("origin", AutoString(length=200), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", runtime.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        info={"service": "*"},
    )
    op.create_table(
        "feed_cursor",
        sa.Column("consumer", AutoString(length=60), nullable=False),
        sa.Column("feed", AutoString(length=60), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "feed"),
        info={"service": "*"},
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", AutoString(length=60), nullable=False),
        sa.Column("event_id", AutoString(length=36), nullable=False),
        sa.Column("type", AutoString(length=120), nullable=False),
        sa.Column("processed_at", runtime.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id"),
        info={"service": "*"},
    )
    op.create_table(
        "log_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("log_hash", AutoString(length=64), nullable=False),
        sa.Column("published", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        info={"service": "*"},
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", AutoString(length=36), nullable=False),
        sa.Column("type", AutoString(length=120), nullable=False),
        sa.Column("subject", AutoString(length=200), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("time", runtime.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("log_hash", AutoString(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
        sa.UniqueConstraint("position"),
        sa.UniqueConstraint("subject", "seq", name="uq_outbox_subject_seq"),
        info={"service": "*"},
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_unsequenced", ["position", "id"], unique=False)
    op.create_table(
        "subject_head",
        sa.Column("subject", AutoString(length=200), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("subject"),
        info={"service": "*"},
    )


def drop_shared_tables() -> None:
    """Drop the runtime's tables (the services' initial schema, downgraded)."""
    op.drop_table("subject_head")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_unsequenced")
    op.drop_table("outbox")
    op.drop_table("log_state")
    op.drop_table("inbox")
    op.drop_table("feed_cursor")
    op.drop_table("dead_letter")
    op.drop_table("checkpoint")


def create_parked_events() -> None:
    """Create `parked_event`: events kept until what they are about arrives (second revision of every service)."""
    op.create_table(
        "parked_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consumer", AutoString(length=60), nullable=False),
        sa.Column("key", AutoString(length=200), nullable=False),
        sa.Column("event_id", AutoString(length=36), nullable=False),
        sa.Column("type", AutoString(length=120), nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("parked_at", runtime.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("consumer", "event_id", name="uq_parked_event_consumer_event"),
        info={"service": "*"},
    )
    with op.batch_alter_table("parked_event", schema=None) as batch_op:
        batch_op.create_index("ix_parked_event_key", ["consumer", "key", "id"], unique=False)


def drop_parked_events() -> None:
    """Drop `parked_event` (the second revision, downgraded)."""
    with op.batch_alter_table("parked_event", schema=None) as batch_op:
        batch_op.drop_index("ix_parked_event_key")
    op.drop_table("parked_event")


def add_dead_letter_redrive() -> None:
    """Give `dead_letter` the time it was handed to the consumer again and what came of it (a later revision of
    every service)."""
    with op.batch_alter_table("dead_letter", schema=None) as batch_op:
        batch_op.add_column(sa.Column("redriven_at", runtime.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("redrive_outcome", AutoString(length=20), nullable=True))


def drop_dead_letter_redrive() -> None:
    """Drop the redrive columns of `dead_letter` (that revision, downgraded)."""
    with op.batch_alter_table("dead_letter", schema=None) as batch_op:
        batch_op.drop_column("redrive_outcome")
        batch_op.drop_column("redriven_at")
