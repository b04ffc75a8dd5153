"""parked events; the status of the own latest decision until the issues service confirms it

Revision ID: b2e1d4c3f6a2
Revises: 69152c422970
Create Date: 2026-12-01 23:30:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from runtime.schema import create_parked_events, drop_parked_events

revision: str = 'b2e1d4c3f6a2'
down_revision: str | None = '69152c422970'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_parked_events()  # the runtime's table, defined once in runtime/schema.py
    with op.batch_alter_table('verification_issue', schema=None) as batch_op:
        batch_op.add_column(sa.Column('own_status', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column('own_event_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('verification_issue', schema=None) as batch_op:
        batch_op.drop_column('own_event_id')
        batch_op.drop_column('own_status')
    drop_parked_events()
