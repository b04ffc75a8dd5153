"""breakdown (parent tasks) and milestones

Revision ID: b7d4e1f2a9c3
Revises: a1f0c3d2e5b1
Create Date: 2026-12-02 07:10:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import runtime.db

revision: str = 'b7d4e1f2a9c3'
down_revision: str | None = 'a1f0c3d2e5b1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('issues_issue') as batch:
        batch.add_column(sa.Column('parent_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True))
        batch.add_column(sa.Column('depth', sa.Integer(), nullable=False, server_default='1'))
        batch.add_column(sa.Column('children_total', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('children_open', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('derived_percent', sa.Integer(), nullable=True))
    op.create_index('ix_issue_parent_deadline', 'issues_issue', ['parent_id', 'deadline', 'id'], unique=False)
    op.create_table('issues_milestone',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('issue_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('target', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('evidence_ids', sa.JSON(), nullable=False),
    sa.Column('reported_at', runtime.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reported_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('reported_event_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
    sa.Column('met_reported_at', runtime.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('disputed', sa.Boolean(), nullable=False),
    sa.Column('reviewed_at', runtime.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('opinion', sa.Text(), nullable=True),
    sa.Column('created_at', runtime.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['issue_id'], ['issues_issue.id'], ),
    sa.PrimaryKeyConstraint('id'),
    info={'service': 'issues'}
    )
    op.create_index('ix_milestone_issue_due', 'issues_milestone', ['issue_id', 'due_on'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_milestone_issue_due', table_name='issues_milestone')
    op.drop_table('issues_milestone')
    op.drop_index('ix_issue_parent_deadline', table_name='issues_issue')
    with op.batch_alter_table('issues_issue') as batch:
        batch.drop_column('derived_percent')
        batch.drop_column('children_open')
        batch.drop_column('children_total')
        batch.drop_column('depth')
        batch.drop_column('parent_id')
