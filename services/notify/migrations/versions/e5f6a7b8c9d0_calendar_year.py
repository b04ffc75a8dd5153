"""the working-day calendar, seeded from chinese-calendar 1.11.0

Revision ID: e5f6a7b8c9d0
Revises: d4e3f6a5b8c4
Create Date: 2026-12-02 01:00:00.000000
"""
from collections.abc import Sequence

from alembic import op

from runtime.calendar_table import create_calendar_table

revision: str = 'e5f6a7b8c9d0'
down_revision: str | None = 'd4e3f6a5b8c4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_calendar_table('notify_calendar_year')


def downgrade() -> None:
    op.drop_table('notify_calendar_year')
