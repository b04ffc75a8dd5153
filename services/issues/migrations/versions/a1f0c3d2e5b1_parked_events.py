"""parked events

Revision ID: a1f0c3d2e5b1
Revises: 4cd41740abfc
Create Date: 2026-12-01 23:30:00.000000
"""
from collections.abc import Sequence

from runtime.schema import create_parked_events, drop_parked_events

revision: str = 'a1f0c3d2e5b1'
down_revision: str | None = '4cd41740abfc'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_parked_events()  # the runtime's table, defined once in runtime/schema.py


def downgrade() -> None:
    drop_parked_events()
