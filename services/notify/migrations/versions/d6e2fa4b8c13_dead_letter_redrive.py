"""dead letters record when they were redriven and what came of it

Revision ID: d6e2fa4b8c13
Revises: a9b8c7d6e5f4
Create Date: 2026-12-02 13:10:00.000000
"""
from collections.abc import Sequence

from runtime.schema import add_dead_letter_redrive, drop_dead_letter_redrive

revision: str = 'd6e2fa4b8c13'
down_revision: str | None = 'a9b8c7d6e5f4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_dead_letter_redrive()  # the runtime's table, changed once in runtime/schema.py


def downgrade() -> None:
    drop_dead_letter_redrive()
