"""Merge: points on the ledger (1100) and profiles and consent (1300).

Revision ID: 1301
Revises: 1100, 1300
Create Date: 2026-12-07 19:20:00
"""

from collections.abc import Sequence

revision: str = "1301"
down_revision: str | Sequence[str] | None = ("1100", "1300")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
