"""Merge: the rights pool (1500) and "users like you" (1800).

Revision ID: 1801
Revises: 1500, 1800
Create Date: 2026-12-07 19:10:00
"""

from collections.abc import Sequence

revision: str = "1801"
down_revision: str | Sequence[str] | None = ("1500", "1800")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
