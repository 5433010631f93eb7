"""The bank's product catalogue, and the clicks and conversions attributed to content.

- ``products``: one row per product (deposit, fund, card, insurance), its risk level R1–R5
  and the compliance text it must carry; withdrawn products keep their row (clicks and
  conversions refer to them), they are no longer shown.
- ``product_clicks``: a member tapped a card, in the context of a post, a chat message or
  a campaign; the author is the post's author or the message's sender.
- ``product_conversions``: the bank reports a purchase (service token); the bank's
  reference is the key, so a replay changes nothing. The attribution (the member's last
  click on that product within the window) is decided once, when first reported.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Index
from sqlmodel import Field, SQLModel

from app.dbenums import enum_field, one_of
from app.dbtypes import at_field


class ProductKind(StrEnum):
    DEPOSIT = "deposit"
    FUND = "fund"
    CARD = "card"
    INSURANCE = "insurance"


class ProductStatus(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"


class Product(SQLModel, table=True):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("risk_level BETWEEN 1 AND 5", name="risk_level_valid"),
        one_of("kind", ProductKind),
        one_of("status", ProductStatus),
    )

    id: str = Field(primary_key=True, max_length=64)  # the bank's product code, e.g. fund-csi300
    kind: ProductKind = enum_field(ProductKind, max_length=12)
    name: str = Field(max_length=100)
    issuer: str = Field(max_length=100)
    summary: str = Field(default="", max_length=500)
    risk_level: int  # R1–R5
    compliance_text: str = Field(max_length=1000)
    link: str = Field(max_length=512)
    status: ProductStatus = enum_field(ProductStatus, max_length=12)
    created_at: datetime = at_field()
    updated_at: datetime = at_field()


class ProductClick(SQLModel, table=True):
    __tablename__ = "product_clicks"
    __table_args__ = (Index("ix_product_clicks_user_product_at", "user_id", "product_id", "clicked_at"),)

    id: str = Field(primary_key=True, max_length=40)  # time-sortable
    user_id: str = Field(foreign_key="users.id", max_length=40)
    product_id: str = Field(foreign_key="products.id", max_length=64)
    post_id: str | None = Field(default=None, max_length=40)
    message_id: str | None = Field(default=None, max_length=40)
    campaign: str | None = Field(default=None, max_length=64)
    author_id: str | None = Field(default=None, max_length=40)  # the post's author or the message's sender
    clicked_at: datetime = at_field()


class ProductConversion(SQLModel, table=True):
    __tablename__ = "product_conversions"
    __table_args__ = (
        Index("ix_product_conversions_author_id", "author_id"),
        Index("ix_product_conversions_post_id", "post_id"),
        CheckConstraint("amount_fen >= 0", name="amount_fen_not_negative"),
    )

    bank_ref: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="users.id", max_length=40)
    product_id: str = Field(foreign_key="products.id", max_length=64)
    amount_fen: int = Field(sa_type=BigInteger())
    occurred_at: datetime = at_field()
    recorded_at: datetime = at_field()
    click_id: str | None = Field(default=None, max_length=40)
    post_id: str | None = Field(default=None, max_length=40)
    message_id: str | None = Field(default=None, max_length=40)
    campaign: str | None = Field(default=None, max_length=64)
    author_id: str | None = Field(default=None, max_length=40)
