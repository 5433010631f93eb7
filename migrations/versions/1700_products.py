"""Products (issue 17.5): the catalogue (risk level R1–R5, compliance text), clicks on
product cards and the bank's conversion reports; posts embed a product by id only.

Revision ID: 1700
Revises: 1302
Create Date: 2026-12-07 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.dbtypes

revision: str = "1700"
down_revision: str | Sequence[str] | None = "1302"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString
AT = app.dbtypes.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", S(length=64), nullable=False),
        sa.Column("kind", S(length=12), nullable=False),
        sa.Column("name", S(length=100), nullable=False),
        sa.Column("issuer", S(length=100), nullable=False),
        sa.Column("summary", S(length=500), nullable=False),
        sa.Column("risk_level", sa.Integer(), nullable=False),
        sa.Column("compliance_text", S(length=1000), nullable=False),
        sa.Column("link", S(length=512), nullable=False),
        sa.Column("status", S(length=12), nullable=False),
        sa.Column("created_at", AT, nullable=False),
        sa.Column("updated_at", AT, nullable=False),
        sa.CheckConstraint("risk_level BETWEEN 1 AND 5", name=op.f("ck_products_risk_level_valid")),
        sa.CheckConstraint(
            "kind IN ('deposit', 'fund', 'card', 'insurance')", name=op.f("ck_products_kind_valid")
        ),
        sa.CheckConstraint("status IN ('active', 'withdrawn')", name=op.f("ck_products_status_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    op.create_table(
        "product_clicks",
        sa.Column("id", S(length=40), nullable=False),
        sa.Column("user_id", S(length=40), nullable=False),
        sa.Column("product_id", S(length=64), nullable=False),
        sa.Column("post_id", S(length=40), nullable=True),
        sa.Column("message_id", S(length=40), nullable=True),
        sa.Column("campaign", S(length=64), nullable=True),
        sa.Column("author_id", S(length=40), nullable=True),
        sa.Column("clicked_at", AT, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_product_clicks_user_id_users")),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_product_clicks_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_clicks")),
    )
    op.create_index(
        "ix_product_clicks_user_product_at", "product_clicks", ["user_id", "product_id", "clicked_at"]
    )
    op.create_table(
        "product_conversions",
        sa.Column("bank_ref", S(length=64), nullable=False),
        sa.Column("user_id", S(length=40), nullable=False),
        sa.Column("product_id", S(length=64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", AT, nullable=False),
        sa.Column("recorded_at", AT, nullable=False),
        sa.Column("click_id", S(length=40), nullable=True),
        sa.Column("post_id", S(length=40), nullable=True),
        sa.Column("message_id", S(length=40), nullable=True),
        sa.Column("campaign", S(length=64), nullable=True),
        sa.Column("author_id", S(length=40), nullable=True),
        sa.CheckConstraint("amount_fen >= 0", name=op.f("ck_product_conversions_amount_fen_not_negative")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_product_conversions_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_product_conversions_product_id_products")
        ),
        sa.PrimaryKeyConstraint("bank_ref", name=op.f("pk_product_conversions")),
    )
    op.create_index("ix_product_conversions_author_id", "product_conversions", ["author_id"])
    op.create_index("ix_product_conversions_post_id", "product_conversions", ["post_id"])
    op.create_index(
        "ix_posts_with_product_id", "posts", ["id"], postgresql_where=sa.text("product IS NOT NULL")
    )
    # Posts embed a product by id: the card (title, link, risk, compliance text) is rendered
    # from the catalogue; free-form titles and links are dropped.
    op.execute(
        "UPDATE posts SET product = json_build_object('product_id', product->>'product_id') "
        "WHERE product IS NOT NULL AND json_typeof(product) = 'object'"
    )


def downgrade() -> None:
    op.drop_index("ix_posts_with_product_id", table_name="posts")
    op.drop_index("ix_product_conversions_post_id", table_name="product_conversions")
    op.drop_index("ix_product_conversions_author_id", table_name="product_conversions")
    op.drop_table("product_conversions")
    op.drop_index("ix_product_clicks_user_product_at", table_name="product_clicks")
    op.drop_table("product_clicks")
    op.drop_table("products")
