"""Merge: points and profiles (1301) with card-payment campaigns (1200).

Revision ID: 1302
Revises: 1301, 1200
Create Date: 2026-12-07 19:30:00
"""

from collections.abc import Sequence

revision: str = "1302"
down_revision: str | Sequence[str] | None = ("1301", "1200")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
