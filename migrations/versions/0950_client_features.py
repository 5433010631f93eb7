"""Client features: removable media uploads (media.removed_at).

Revision ID: 0950
Revises: 0500
Create Date: 2026-12-10 09:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.dbtypes


revision: str = '0950'
down_revision: str | Sequence[str] | None = '0500'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('media', sa.Column('removed_at', app.dbtypes.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('media', 'removed_at')
