"""milestones (重要节点) for reminders and the weekly dispatch

Revision ID: b9d2c4e6f8a1
Revises: f7a8b9c0d1e2
Create Date: 2026-12-02 08:10:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import runtime.db

revision: str = 'b9d2c4e6f8a1'
down_revision: str | None = 'f7a8b9c0d1e2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('notify_milestone',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('issue_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('target', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('met_reported_at', runtime.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    info={'service': 'notify'}
    )
    op.create_index('ix_notify_milestone_state_due', 'notify_milestone', ['state', 'due_on'], unique=False)
    op.create_index('ix_notify_milestone_issue', 'notify_milestone', ['issue_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_notify_milestone_issue', table_name='notify_milestone')
    op.drop_index('ix_notify_milestone_state_due', table_name='notify_milestone')
    op.drop_table('notify_milestone')
