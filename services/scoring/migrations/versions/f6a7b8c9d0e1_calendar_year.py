"""the working-day calendar, seeded from chinese-calendar 1.11.0

Revision ID: f6a7b8c9d0e1
Revises: dd175118b9a3
Create Date: 2026-12-02 01:00:00.000000
"""
from collections.abc import Sequence

from alembic import op

from runtime.calendar_table import create_calendar_table

revision: str = 'f6a7b8c9d0e1'
down_revision: str | None = 'dd175118b9a3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_calendar_table('scoring_calendar_year')


def downgrade() -> None:
    op.drop_table('scoring_calendar_year')
