"""Merge the points (2000) and campaigns (2010) branches.

Revision ID: 2011
Revises: 2000, 2010
Create Date: 2026-12-07 21:10:00
"""

from collections.abc import Sequence

revision: str = "2011"
down_revision: str | Sequence[str] | None = ("2000", "2010")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
