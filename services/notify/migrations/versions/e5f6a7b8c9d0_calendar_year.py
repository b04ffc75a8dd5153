"""the working-day calendar, seeded from chinese-calendar 1.11.0

Revision ID: e5f6a7b8c9d0
Revises: d4e3f6a5b8c4
Create Date: 2026-12-02 01:00:00.000000
"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

from contracts.calendar import seed_rows
from runtime.db import UTCDateTime

revision: str = 'e5f6a7b8c9d0'
down_revision: str | None = 'd4e3f6a5b8c4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        'notify_calendar_year',
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('holidays', sa.JSON(), nullable=False),
        sa.Column('workdays', sa.JSON(), nullable=False),
        sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('year'),
    )
    # a fixed time, not the clock's: two databases migrated apart must hold the same rows (replays compare them)
    seeded_at = datetime(2026, 12, 2, tzinfo=UTC)
    op.bulk_insert(table, [{**row, "updated_at": seeded_at} for row in seed_rows()])


def downgrade() -> None:
    op.drop_table('notify_calendar_year')
