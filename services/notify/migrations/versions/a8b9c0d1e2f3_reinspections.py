"""tasks drawn for re-inspection (抽查) and their outcomes, for the monthly bulletin

Revision ID: a8b9c0d1e2f3
Revises: a1c2e3f4b5d6
Create Date: 2026-12-02 07:30:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import runtime.db

revision: str = 'a8b9c0d1e2f3'
down_revision: str | None = 'a1c2e3f4b5d6'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('notify_reinspection',
    sa.Column('sample_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('issue_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('stratum', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('responsible_org_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('reinspector_org_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('reinspected_at', runtime.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('sample_id', 'issue_id'),
    info={'service': 'notify'}
    )
    with op.batch_alter_table('notify_reinspection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notify_reinspection_period'), ['period'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notify_reinspection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notify_reinspection_period'))
    op.drop_table('notify_reinspection')
