"""The working-day calendar's table as the migrations create it: one DDL for every service that keeps a copy.

Scoring owns the calendar and notify keeps a copy of it (filled by `calendar.year_published`); both tables have
the same columns and the same seed, so both migrations call `create_calendar_table` with their table's name.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

from contracts.calendar import seed_rows
from runtime.db import UTCDateTime

# a fixed time, not the clock's: two databases migrated apart must hold the same rows (replays compare them)
SEEDED_AT = datetime(2026, 12, 2, tzinfo=UTC)


def create_calendar_table(name: str) -> None:
    """Create a calendar table (year, holidays, workdays, source, updated_at) and seed it with chinese-calendar."""
    table = op.create_table(
        name,
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('holidays', sa.JSON(), nullable=False),
        sa.Column('workdays', sa.JSON(), nullable=False),
        sa.Column('source', AutoString(length=200), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('year'),
    )
    op.bulk_insert(table, [{**row, "updated_at": SEEDED_AT} for row in seed_rows()])
