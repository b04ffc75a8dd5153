"""official documents: numbers per kind and year, and each document's record

Revision ID: f7a8b9c0d1e2
Revises: e5f6a7b8c9d0
Create Date: 2026-12-02 01:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from runtime.db import UTCDateTime

revision: str = 'f7a8b9c0d1e2'
down_revision: str | None = 'e5f6a7b8c9d0'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'notify_document_counter',
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('last', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('kind', 'year'),
    )
    op.create_table(
        'notify_document',
        sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('number', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column('content', sa.JSON(), nullable=False),
        sa.Column('docx_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('pdf_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column('rendered_at', UTCDateTime(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kind', 'year', 'seq'),
    )
    with op.batch_alter_table('notify_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notify_document_owner'), ['owner'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('notify_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notify_document_owner'))
    op.drop_table('notify_document')
    op.drop_table('notify_document_counter')
