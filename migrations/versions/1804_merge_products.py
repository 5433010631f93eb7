"""Merge: audiences and the rest (1803) with product cards and the for-you tab (1700).

Revision ID: 1804
Revises: 1803, 1700
Create Date: 2026-12-07 19:35:00
"""

from collections.abc import Sequence

revision: str = "1804"
down_revision: str | Sequence[str] | None = ("1803", "1700")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
