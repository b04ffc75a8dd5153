"""parked events; the status an issue.status_changed fact moved to

Revision ID: c3d2e5f4a7b3
Revises: 3c875728bcfd
Create Date: 2026-12-01 23:30:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from runtime.schema import create_parked_events, drop_parked_events

revision: str = 'c3d2e5f4a7b3'
down_revision: str | None = '3c875728bcfd'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_parked_events()  # the runtime's table, defined once in runtime/schema.py
    with op.batch_alter_table('scoring_issue_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('to_status', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('scoring_issue_event', schema=None) as batch_op:
        batch_op.drop_column('to_status')
    drop_parked_events()
