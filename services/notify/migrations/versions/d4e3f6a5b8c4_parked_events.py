"""parked events

Revision ID: d4e3f6a5b8c4
Revises: 3b24f369aa53
Create Date: 2026-12-01 23:30:00.000000
"""
from collections.abc import Sequence

from runtime.schema import create_parked_events, drop_parked_events

revision: str = 'd4e3f6a5b8c4'
down_revision: str | None = '3b24f369aa53'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_parked_events()  # the runtime's table, defined once in runtime/schema.py


def downgrade() -> None:
    drop_parked_events()
