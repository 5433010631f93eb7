"""Profile and consent (issue 17): consents per scenario, partners' scenario events, tag
evidence and removed tags; users.erased_at; sessions may end because of an erasure.

Revision ID: 1300
Revises: 0802
Create Date: 2026-12-20 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.dbtypes


revision: str = "1300"
down_revision: str | Sequence[str] | None = "0802"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString
AT = app.dbtypes.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.add_column("users", sa.Column("erased_at", AT, nullable=True))
    op.drop_constraint(op.f("ck_auth_sessions_ended_reason_valid"), "auth_sessions", type_="check")
    op.create_check_constraint(
        op.f("ck_auth_sessions_ended_reason_valid"),
        "auth_sessions",
        "ended_reason IN ('logout', 'refresh_reuse', 'erased')",
    )
    op.create_table(
        "profile_consents",
        sa.Column("user_id", S(length=40), nullable=False),
        sa.Column("scenario", S(length=32), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("share_with_advisor", sa.Boolean(), nullable=False),
        sa.Column("updated_at", AT, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_profile_consents_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", "scenario", name=op.f("pk_profile_consents")),
    )
    op.create_table(
        "scenario_events",
        sa.Column("event_id", S(length=64), nullable=False),
        sa.Column("user_id", S(length=40), nullable=False),
        sa.Column("scenario", S(length=32), nullable=False),
        sa.Column("type", S(length=32), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("occurred_at", AT, nullable=False),
        sa.Column("received_at", AT, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_scenario_events_user_id_users")),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_scenario_events")),
    )
    op.create_index(
        "ix_scenario_events_user_id_scenario", "scenario_events", ["user_id", "scenario"], unique=False
    )
    op.create_table(
        "profile_tag_evidence",
        sa.Column("user_id", S(length=40), nullable=False),
        sa.Column("tag", S(length=80), nullable=False),
        sa.Column("source", S(length=32), nullable=False),
        sa.Column("action", S(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("why", S(length=200), nullable=False),
        sa.Column("updated_at", AT, nullable=False),
        sa.Column("last_at", AT, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_profile_tag_evidence_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "tag", "source", "action", name=op.f("pk_profile_tag_evidence")),
    )
    op.create_table(
        "profile_tag_removals",
        sa.Column("user_id", S(length=40), nullable=False),
        sa.Column("tag", S(length=80), nullable=False),
        sa.Column("removed_at", AT, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_profile_tag_removals_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "tag", name=op.f("pk_profile_tag_removals")),
    )


def downgrade() -> None:
    op.drop_table("profile_tag_removals")
    op.drop_table("profile_tag_evidence")
    op.drop_index("ix_scenario_events_user_id_scenario", table_name="scenario_events")
    op.drop_table("scenario_events")
    op.drop_table("profile_consents")
    op.drop_constraint(op.f("ck_auth_sessions_ended_reason_valid"), "auth_sessions", type_="check")
    op.create_check_constraint(
        op.f("ck_auth_sessions_ended_reason_valid"),
        "auth_sessions",
        "ended_reason IN ('logout', 'refresh_reuse')",
    )
    op.drop_column("users", "erased_at")
