"""Merge: money in SQL, rights and insights (1802) with audiences and offers (1600).

Revision ID: 1803
Revises: 1802, 1600
Create Date: 2026-12-07 19:30:00
"""

from collections.abc import Sequence

revision: str = "1803"
down_revision: str | Sequence[str] | None = ("1802", "1600")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
