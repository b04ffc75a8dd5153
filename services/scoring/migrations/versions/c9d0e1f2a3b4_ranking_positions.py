"""a published ranking records how far scoring had read each log it follows

Revision ID: c9d0e1f2a3b4
Revises: b7c8d9e0f1a2
Create Date: 2026-12-02 13:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c9d0e1f2a3b4'
down_revision: str | None = 'b7c8d9e0f1a2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('scoring_ranking', schema=None) as batch_op:
        batch_op.add_column(sa.Column('positions', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('scoring_ranking', schema=None) as batch_op:
        batch_op.drop_column('positions')
