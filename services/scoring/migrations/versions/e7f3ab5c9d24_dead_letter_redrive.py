"""dead letters record when they were redriven and what came of it

Revision ID: e7f3ab5c9d24
Revises: c9d0e1f2a3b4
Create Date: 2026-12-02 13:10:00.000000
"""
from collections.abc import Sequence

from runtime.schema import add_dead_letter_redrive, drop_dead_letter_redrive

revision: str = 'e7f3ab5c9d24'
down_revision: str | None = 'c9d0e1f2a3b4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_dead_letter_redrive()  # the runtime's table, changed once in runtime/schema.py


def downgrade() -> None:
    drop_dead_letter_redrive()
