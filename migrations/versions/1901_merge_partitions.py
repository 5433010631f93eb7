"""Merge: messages by month (1900) with main's head (1804).

Revision ID: 1901
Revises: 1900, 1804
Create Date: 2026-12-07 19:30:00
"""

from collections.abc import Sequence

revision: str = "1901"
down_revision: str | Sequence[str] | None = ("1900", "1804")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
