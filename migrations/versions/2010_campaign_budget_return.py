"""A finished campaign's leftover budget goes back (issue 16): ``campaigns`` records when
and how much of its budget account was returned to the account that funded it.

Revision ID: 2010
Revises: 1901
Create Date: 2026-12-07 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.dbtypes

revision: str = "2010"
down_revision: str | Sequence[str] | None = "1901"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "campaigns", sa.Column("budget_returned_fen", sa.BigInteger(), nullable=False, server_default="0")
    )
    op.add_column(
        "campaigns", sa.Column("budget_returned_at", app.dbtypes.UTCDateTime(timezone=True), nullable=True)
    )
    op.create_check_constraint(
        op.f("ck_campaigns_budget_returned_within_budget"),
        "campaigns",
        "budget_returned_fen >= 0 AND budget_returned_fen <= total_budget_fen",
    )
    # The return job's look-up: campaigns whose budget has not gone back yet.
    op.create_index(
        "ix_campaigns_budget_unreturned",
        "campaigns",
        ["ends_at"],
        unique=False,
        postgresql_where=sa.text("budget_returned_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_campaigns_budget_unreturned", table_name="campaigns")
    op.drop_constraint(op.f("ck_campaigns_budget_returned_within_budget"), "campaigns", type_="check")
    op.drop_column("campaigns", "budget_returned_at")
    op.drop_column("campaigns", "budget_returned_fen")
