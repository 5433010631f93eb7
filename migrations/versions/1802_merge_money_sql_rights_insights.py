"""Merge: money in SQL functions (1003) with the rights pool and insights (1801).

Revision ID: 1802
Revises: 1003, 1801
Create Date: 2026-12-07 19:20:00
"""

from collections.abc import Sequence

revision: str = "1802"
down_revision: str | Sequence[str] | None = ("1003", "1801")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
