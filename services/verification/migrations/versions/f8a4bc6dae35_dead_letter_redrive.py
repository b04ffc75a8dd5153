"""dead letters record when they were redriven and what came of it

Revision ID: f8a4bc6dae35
Revises: c4f2a9d1e7b3
Create Date: 2026-12-02 13:10:00.000000
"""
from collections.abc import Sequence

from runtime.schema import add_dead_letter_redrive, drop_dead_letter_redrive

revision: str = 'f8a4bc6dae35'
down_revision: str | None = 'c4f2a9d1e7b3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_dead_letter_redrive()  # the runtime's table, changed once in runtime/schema.py


def downgrade() -> None:
    drop_dead_letter_redrive()
