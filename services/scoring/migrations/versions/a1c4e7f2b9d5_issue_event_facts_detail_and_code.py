"""issue event facts keep a one-code detail (a rejection's reason, a re-inspection's outcome) and the task code

Revision ID: a1c4e7f2b9d5
Revises: a8c3f1d7e2b4
Create Date: 2026-12-02 07:20:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = 'a1c4e7f2b9d5'
down_revision: str | None = 'a8c3f1d7e2b4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('scoring_issue_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('scoring_issue_event', schema=None) as batch_op:
        batch_op.drop_column('code')
        batch_op.drop_column('detail')
