"""appeals against a published ranking, the scheme's appeal and decision windows, corrections on appeal

Revision ID: b7c8d9e0f1a2
Revises: a1c4e7f2b9d5
Create Date: 2026-12-02 07:30:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

from runtime.db import UTCDateTime

revision: str = 'b7c8d9e0f1a2'
down_revision: str | None = 'a1c4e7f2b9d5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('scoring_scheme', schema=None) as batch_op:
        batch_op.add_column(sa.Column('appeal_days', sa.Integer(), server_default='5', nullable=False))
        batch_op.add_column(sa.Column('decision_days', sa.Integer(), server_default='10', nullable=False))
    with op.batch_alter_table('scoring_ranking', schema=None) as batch_op:
        batch_op.add_column(sa.Column('on_appeal', sa.JSON(), nullable=True))
    op.create_table(
        'scoring_appeal',
        sa.Column('id', AutoString(length=36), nullable=False),
        sa.Column('ranking_id', AutoString(length=36), nullable=False),
        sa.Column('period', AutoString(length=10), nullable=False),
        sa.Column('kind', AutoString(length=20), nullable=False),
        sa.Column('scheme_id', AutoString(length=64), nullable=False),
        sa.Column('org_id', AutoString(length=64), nullable=False),
        sa.Column('org_name', AutoString(length=200), nullable=True),
        sa.Column('component', AutoString(length=40), nullable=False),
        sa.Column('disputed_value', sa.Float(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('evidence_ids', sa.JSON(), nullable=False),
        sa.Column('filed_at', UTCDateTime(), nullable=False),
        sa.Column('filed_by', AutoString(length=200), nullable=False),
        sa.Column('filed_on', sa.Date(), nullable=False),
        sa.Column('appeal_due', sa.Date(), nullable=False),
        sa.Column('decision_due', sa.Date(), nullable=False),
        sa.Column('status', AutoString(length=20), nullable=False),
        sa.Column('reasons', sa.Text(), nullable=True),
        sa.Column('previous', sa.JSON(), nullable=True),
        sa.Column('correction', sa.JSON(), nullable=True),
        sa.Column('corrected_ranking_id', AutoString(length=36), nullable=True),
        sa.Column('decided_at', UTCDateTime(), nullable=True),
        sa.Column('decided_by', AutoString(length=200), nullable=True),
        sa.Column('decided_on', sa.Date(), nullable=True),
        sa.Column('late', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('ranking_id', 'org_id', 'component', name='uq_scoring_appeal_once'),
    )
    with op.batch_alter_table('scoring_appeal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scoring_appeal_filed_at'), ['filed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_scoring_appeal_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scoring_appeal_ranking_id'), ['ranking_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scoring_appeal_status'), ['status'], unique=False)


def downgrade() -> None:
    op.drop_table('scoring_appeal')
    with op.batch_alter_table('scoring_ranking', schema=None) as batch_op:
        batch_op.drop_column('on_appeal')
    with op.batch_alter_table('scoring_scheme', schema=None) as batch_op:
        batch_op.drop_column('decision_days')
        batch_op.drop_column('appeal_days')
