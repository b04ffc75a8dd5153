"""an issue's status moves still to come after a moved-in registration (issue.registered moves_following)

Revision ID: a1c2e3f4b5d6
Revises: b9d2c4e6f8a1
Create Date: 2026-12-02 07:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'a1c2e3f4b5d6'
down_revision: str | None = 'b9d2c4e6f8a1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('notify_issue') as batch:
        batch.add_column(sa.Column('moves_pending', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('notify_issue') as batch:
        batch.drop_column('moves_pending')
