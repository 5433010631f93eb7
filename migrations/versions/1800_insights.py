"""Users like you (issue 17.6): the bank's member attributes (birth year, assets,
allocation) and the nightly job's cohorts and cell map.

Revision ID: 1800
Revises: 1302
Create Date: 2026-12-07 18:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.dbtypes


revision: str = "1800"
down_revision: str | Sequence[str] | None = "1302"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString
AT = app.dbtypes.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "member_attributes",
        sa.Column("user_id", S(length=40), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("assets_fen", sa.BigInteger(), nullable=True),
        sa.Column("allocation", sa.JSON(), nullable=True),
        sa.Column("updated_at", AT, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_member_attributes_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_member_attributes")),
    )
    op.create_table(
        "insight_cohorts",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.Column("members_noisy", sa.Integer(), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.Column("rules_version", S(length=32), nullable=False),
        sa.Column("computed_at", AT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insight_cohorts")),
    )
    op.create_table(
        "insight_cells",
        sa.Column("cell", S(length=32), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("cell", name=op.f("pk_insight_cells")),
    )


def downgrade() -> None:
    op.drop_table("insight_cells")
    op.drop_table("insight_cohorts")
    op.drop_table("member_attributes")
