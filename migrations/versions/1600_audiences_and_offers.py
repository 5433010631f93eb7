"""Audiences and cross-scenario offers (issue 17, items 3 and 4): segments, the tags each
names, stored members; offer rules and offers (once per member per rule); a campaign may
target an audience; tag evidence indexed by tag.

Revision ID: 1600
Revises: 1302
Create Date: 2026-12-07 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.dbtypes

revision: str = "1600"
down_revision: str | Sequence[str] | None = "1302"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString
AT = app.dbtypes.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_index(
        "ix_profile_tag_evidence_tag_user_id", "profile_tag_evidence", ["tag", "user_id"], unique=False
    )
    op.create_table(
        "audience_segments",
        sa.Column("id", S(length=40), nullable=False),
        sa.Column("name", S(length=64), nullable=False),
        sa.Column("description", S(length=200), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("created_by", S(length=40), nullable=False),
        sa.Column("created_at", AT, nullable=False),
        sa.Column("updated_at", AT, nullable=False),
        sa.Column("evaluated_at", AT, nullable=True),
        sa.Column("deleted_at", AT, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audience_segments")),
    )
    op.create_table(
        "audience_segment_tags",
        sa.Column("tag", S(length=80), nullable=False),
        sa.Column("segment_id", S(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["audience_segments.id"],
            name=op.f("fk_audience_segment_tags_segment_id_audience_segments"),
        ),
        sa.PrimaryKeyConstraint("tag", "segment_id", name=op.f("pk_audience_segment_tags")),
    )
    op.create_table(
        "audience_members",
        sa.Column("segment_id", S(length=40), nullable=False),
        sa.Column("user_id", S(length=40), nullable=False),
        sa.Column("since", AT, nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"], ["audience_segments.id"], name=op.f("fk_audience_members_segment_id_audience_segments")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_audience_members_user_id_users")),
        sa.PrimaryKeyConstraint("segment_id", "user_id", name=op.f("pk_audience_members")),
    )
    op.create_index("ix_audience_members_user_id", "audience_members", ["user_id"], unique=False)
    op.add_column("campaigns", sa.Column("audience_id", S(length=40), nullable=True))
    op.create_foreign_key(
        op.f("fk_campaigns_audience_id_audience_segments"), "campaigns", "audience_segments", ["audience_id"], ["id"]
    )
    op.create_table(
        "offer_rules",
        sa.Column("id", S(length=40), nullable=False),
        sa.Column("name", S(length=64), nullable=False),
        sa.Column("scenario", S(length=32), nullable=False),
        sa.Column("event_type", S(length=32), nullable=False),
        sa.Column("match", sa.JSON(), nullable=False),
        sa.Column("offer_scenario", S(length=32), nullable=False),
        sa.Column("title", S(length=80), nullable=False),
        sa.Column("body", S(length=300), nullable=False),
        sa.Column("code", S(length=32), nullable=False),
        sa.Column("valid_days", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", S(length=40), nullable=False),
        sa.Column("created_at", AT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_rules")),
    )
    op.create_index("ix_offer_rules_scenario_event_type", "offer_rules", ["scenario", "event_type"], unique=False)
    op.create_table(
        "offers",
        sa.Column("id", S(length=40), nullable=False),
        sa.Column("rule_id", S(length=40), nullable=False),
        sa.Column("user_id", S(length=40), nullable=False),
        sa.Column("event_id", S(length=64), nullable=False),
        sa.Column("scenario", S(length=32), nullable=False),
        sa.Column("title", S(length=80), nullable=False),
        sa.Column("body", S(length=300), nullable=False),
        sa.Column("code", S(length=32), nullable=False),
        sa.Column("issued_at", AT, nullable=False),
        sa.Column("expires_at", AT, nullable=False),
        sa.ForeignKeyConstraint(["rule_id"], ["offer_rules.id"], name=op.f("fk_offers_rule_id_offer_rules")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_offers_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
        sa.UniqueConstraint("rule_id", "user_id", name=op.f("uq_offers_rule_id_user_id")),
    )
    op.create_index("ix_offers_user_id_issued_at", "offers", ["user_id", "issued_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_offers_user_id_issued_at", table_name="offers")
    op.drop_table("offers")
    op.drop_index("ix_offer_rules_scenario_event_type", table_name="offer_rules")
    op.drop_table("offer_rules")
    op.drop_constraint(op.f("fk_campaigns_audience_id_audience_segments"), "campaigns", type_="foreignkey")
    op.drop_column("campaigns", "audience_id")
    op.drop_index("ix_audience_members_user_id", table_name="audience_members")
    op.drop_table("audience_members")
    op.drop_table("audience_segment_tags")
    op.drop_table("audience_segments")
    op.drop_index("ix_profile_tag_evidence_tag_user_id", table_name="profile_tag_evidence")
