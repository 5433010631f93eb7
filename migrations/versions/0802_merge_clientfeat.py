"""Merge: money controls and withdrawn media (0801) with chat images and push (0950).

Revision ID: 0802
Revises: 0801, 0950
Create Date: 2026-12-07 19:05:00
"""

from collections.abc import Sequence

revision: str = "0802"
down_revision: str | Sequence[str] | None = ("0801", "0950")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
