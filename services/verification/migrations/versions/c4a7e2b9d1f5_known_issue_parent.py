"""known issues keep their parent task (任务分解)

Revision ID: c4a7e2b9d1f5
Revises: b2e1d4c3f6a2
Create Date: 2026-12-02 07:40:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = 'c4a7e2b9d1f5'
down_revision: str | None = 'b2e1d4c3f6a2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('verification_issue') as batch:
        batch.add_column(sa.Column('parent_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True))
    op.create_index('ix_verification_issue_parent', 'verification_issue', ['parent_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_verification_issue_parent', table_name='verification_issue')
    with op.batch_alter_table('verification_issue') as batch:
        batch.drop_column('parent_id')
