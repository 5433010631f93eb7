"""Media withdrawn with the post that showed it (a moderator removed it): media.withdrawn_at.

Revision ID: 0800
Revises: 0500
Create Date: 2026-12-07 18:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.dbtypes


revision: str = '0800'
down_revision: str | Sequence[str] | None = '0500'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('media', sa.Column('withdrawn_at', app.dbtypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column('media', 'withdrawn_at')
