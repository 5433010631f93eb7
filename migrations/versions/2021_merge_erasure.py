"""Merge the campaigns merge (2011) and erasure (2020) branches.

Revision ID: 2021
Revises: 2011, 2020
Create Date: 2026-12-07 21:20:00
"""

from collections.abc import Sequence

revision: str = "2021"
down_revision: str | Sequence[str] | None = ("2011", "2020")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
