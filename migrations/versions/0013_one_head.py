"""Join the feature branches (social, money, games, content) into one head.

Revision ID: 0013
Revises: 0004, 0005, 0006, 0012
Create Date: 2026-11-25

From here on a new migration revises the single head ``0013`` (or its successor).
"""

from collections.abc import Sequence

revision: str = "0013"
down_revision: str | Sequence[str] | None = ("0004", "0005", "0006", "0012")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
