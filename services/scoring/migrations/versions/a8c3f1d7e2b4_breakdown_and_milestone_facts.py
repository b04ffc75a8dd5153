"""issue facts keep parent tasks and milestones; schemes the points of a missed milestone

Revision ID: a8c3f1d7e2b4
Revises: f6a7b8c9d0e1
Create Date: 2026-12-02 08:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = 'a8c3f1d7e2b4'
down_revision: str | None = 'f6a7b8c9d0e1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('scoring_issue_event') as batch:
        batch.add_column(sa.Column('parent_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True))
        batch.add_column(sa.Column('milestone_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True))
        batch.add_column(sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))
        batch.add_column(sa.Column('review', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))
    with op.batch_alter_table('scoring_scheme') as batch:
        batch.add_column(sa.Column('milestone_missed_points', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('scoring_scheme') as batch:
        batch.drop_column('milestone_missed_points')
    with op.batch_alter_table('scoring_issue_event') as batch:
        batch.drop_column('review')
        batch.drop_column('outcome')
        batch.drop_column('milestone_id')
        batch.drop_column('parent_id')
