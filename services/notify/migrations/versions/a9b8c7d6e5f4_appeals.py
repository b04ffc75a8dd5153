"""appeals against rankings as notify keeps them, and correction bulletins marked by their appeal

Revision ID: a9b8c7d6e5f4
Revises: a8b9c0d1e2f3
Create Date: 2026-12-02 07:30:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

from runtime.db import UTCDateTime

revision: str = 'a9b8c7d6e5f4'
down_revision: str | None = 'a8b9c0d1e2f3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('notify_bulletin', schema=None) as batch_op:
        batch_op.add_column(sa.Column('appeal_id', AutoString(length=36), nullable=True))
    op.create_table(
        'notify_appeal',
        sa.Column('id', AutoString(length=36), nullable=False),
        sa.Column('ranking_id', AutoString(length=36), nullable=False),
        sa.Column('period', AutoString(length=10), nullable=False),
        sa.Column('kind', AutoString(length=20), nullable=False),
        sa.Column('org_id', AutoString(length=64), nullable=False),
        sa.Column('org_name', AutoString(length=200), nullable=True),
        sa.Column('component', AutoString(length=40), nullable=False),
        sa.Column('disputed_value', sa.Float(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('filed_at', UTCDateTime(), nullable=False),
        sa.Column('appeal_due', sa.Date(), nullable=False),
        sa.Column('decision_due', sa.Date(), nullable=False),
        sa.Column('status', AutoString(length=20), nullable=False),
        sa.Column('reasons', sa.Text(), nullable=True),
        sa.Column('previous', sa.JSON(), nullable=True),
        sa.Column('correction', sa.JSON(), nullable=True),
        sa.Column('corrected_ranking_id', AutoString(length=36), nullable=True),
        sa.Column('decided_at', UTCDateTime(), nullable=True),
        sa.Column('late', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('notify_appeal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notify_appeal_kind'), ['kind'], unique=False)


def downgrade() -> None:
    op.drop_table('notify_appeal')
    with op.batch_alter_table('notify_bulletin', schema=None) as batch_op:
        batch_op.drop_column('appeal_id')
