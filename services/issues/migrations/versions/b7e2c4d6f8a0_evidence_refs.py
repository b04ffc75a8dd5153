"""evidence refs: the evidence ids a progress report may name

Revision ID: b7e2c4d6f8a0
Revises: b7d4e1f2a9c3
Create Date: 2026-12-02 08:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b7e2c4d6f8a0'
down_revision: str | None = 'b7d4e1f2a9c3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'issues_evidence',
        sa.Column('evidence_id', sa.String(length=64), nullable=False),
        sa.Column('issue_id', sa.String(length=36), nullable=False),
        sa.Column('org_id', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('evidence_id'),
    )
    op.create_index(op.f('ix_issues_evidence_issue_id'), 'issues_evidence', ['issue_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_issues_evidence_issue_id'), table_name='issues_evidence')
    op.drop_table('issues_evidence')
