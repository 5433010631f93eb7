"""Merge: the platform tables (0300) and the status CHECK constraints (0400).

Revision ID: 0301
Revises: 0300, 0400
Create Date: 2026-12-02 00:30:00
"""

from collections.abc import Sequence

revision: str = "0301"
down_revision: str | Sequence[str] | None = ("0300", "0400")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
