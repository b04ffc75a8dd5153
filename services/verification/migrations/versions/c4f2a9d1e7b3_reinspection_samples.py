"""re-inspection draws (抽查) and their tasks; an issue's region, category and sign-off time

Revision ID: c4f2a9d1e7b3
Revises: c4a7e2b9d1f5
Create Date: 2026-12-02 07:10:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import runtime.db

revision: str = 'c4f2a9d1e7b3'
down_revision: str | None = 'c4a7e2b9d1f5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('verification_issue', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
        batch_op.add_column(sa.Column('signed_off_at', runtime.db.UTCDateTime(timezone=True), nullable=True))
    op.create_table('verification_sample',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('basis', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('share', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('count', sa.Integer(), nullable=True),
    sa.Column('stratify_by', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('checkpoint', sa.JSON(), nullable=False),
    sa.Column('seed', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('candidates', sa.Integer(), nullable=False),
    sa.Column('strata', sa.JSON(), nullable=False),
    sa.Column('drawn_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('drawn_at', runtime.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    info={'service': 'verification'}
    )
    op.create_table('verification_sample_item',
    sa.Column('sample_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('issue_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('stratum', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('responsible_org_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('supervising_org_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('accepted_by_org_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('accepted_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('opinion', sa.Text(), nullable=True),
    sa.Column('inspected_on', sa.Date(), nullable=True),
    sa.Column('evidence_ids', sa.JSON(), nullable=False),
    sa.Column('reinspected_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('reinspector_org_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('reinspected_at', runtime.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reopening_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
    sa.PrimaryKeyConstraint('sample_id', 'issue_id'),
    info={'service': 'verification'}
    )
    with op.batch_alter_table('verification_sample_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verification_sample_item_issue_id'), ['issue_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('verification_sample_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verification_sample_item_issue_id'))
    op.drop_table('verification_sample_item')
    op.drop_table('verification_sample')
    with op.batch_alter_table('verification_issue', schema=None) as batch_op:
        batch_op.drop_column('signed_off_at')
        batch_op.drop_column('category')
        batch_op.drop_column('region_id')
