"""dead letters record when they were redriven and what came of it

Revision ID: c5d1e9a3f7b2
Revises: b7e2c4d6f8a0
Create Date: 2026-12-02 13:10:00.000000
"""
from collections.abc import Sequence

from runtime.schema import add_dead_letter_redrive, drop_dead_letter_redrive

revision: str = 'c5d1e9a3f7b2'
down_revision: str | None = 'b7e2c4d6f8a0'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_dead_letter_redrive()  # the runtime's table, changed once in runtime/schema.py


def downgrade() -> None:
    drop_dead_letter_redrive()
