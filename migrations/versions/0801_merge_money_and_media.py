"""Merge: money controls (0600) and withdrawn media (0800).

Revision ID: 0801
Revises: 0600, 0800
Create Date: 2026-12-07 18:40:00
"""

from collections.abc import Sequence

revision: str = "0801"
down_revision: str | Sequence[str] | None = ("0600", "0800")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
