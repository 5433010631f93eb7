from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

ProductKindName = Literal["deposit", "fund", "card", "insurance"]
RiskLevel = Literal["R1", "R2", "R3", "R4", "R5"]
ProductId = str

UNSUITABLE_TEXT = "not available for your risk profile"
UNSUITABLE_TEXT_ZH = "该产品与您的风险承受能力不匹配，暂不可见"


class ProductRef(BaseModel):
    """A product embedded in a post or a chat message, by id: the card is rendered from the
    catalogue (free-form titles and links are no longer accepted)."""

    model_config = ConfigDict(extra="forbid")

    product_id: str = Field(min_length=1, max_length=64)


class ProductCard(BaseModel):
    """A product card as a member sees it, rendered from the catalogue for that member.

    ``available: false`` is the placeholder that replaces a product the member may not see
    (``unavailable_reason``: ``risk_profile`` — above their risk assessment; ``withdrawn``
    — no longer offered or unknown): only ``product_id`` and the notice are filled then."""

    product_id: str
    available: bool = True
    unavailable_reason: Literal["risk_profile", "withdrawn"] | None = None
    notice: str | None = Field(default=None, description="the placeholder's text, when not available")
    notice_zh: str | None = None
    kind: ProductKindName | None = None
    title: str | None = None
    issuer: str | None = None
    summary: str | None = None
    risk_level: RiskLevel | None = None
    compliance_text: str | None = None
    link: str | None = None


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    kind: ProductKindName
    name: str = Field(min_length=1, max_length=100)
    issuer: str = Field(min_length=1, max_length=100)
    summary: str = Field(default="", max_length=500)
    risk_level: RiskLevel
    compliance_text: str = Field(min_length=1, max_length=1000)
    link: str = Field(min_length=1, max_length=512)


class ProductUpdate(BaseModel):
    """Fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    issuer: str | None = Field(default=None, min_length=1, max_length=100)
    summary: str | None = Field(default=None, max_length=500)
    risk_level: RiskLevel | None = None
    compliance_text: str | None = Field(default=None, min_length=1, max_length=1000)
    link: str | None = Field(default=None, min_length=1, max_length=512)
    status: Literal["active", "withdrawn"] | None = None


class ProductAdmin(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: ProductKindName
    name: str
    issuer: str
    summary: str
    risk_level: RiskLevel
    compliance_text: str
    link: str
    status: Literal["active", "withdrawn"]
    created_at: datetime
    updated_at: datetime


class ClickIn(BaseModel):
    """Where the card was tapped: at most one of a post or a chat message, and optionally
    the campaign that brought the member there."""

    model_config = ConfigDict(extra="forbid")

    post_id: str | None = Field(default=None, min_length=1, max_length=40)
    message_id: str | None = Field(default=None, min_length=1, max_length=40)
    campaign: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class ClickPublic(BaseModel):
    click_id: str
    product_id: str
    post_id: str | None
    message_id: str | None
    campaign: str | None
    clicked_at: datetime
    link: str = Field(description="where to take the member: the product's page in the bank")


class ConversionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bank_ref: str = Field(min_length=1, max_length=64)
    user_id: str = Field(min_length=1, max_length=40)
    product_id: str = Field(min_length=1, max_length=64)
    amount_fen: int = Field(ge=0, le=10**13)
    occurred_at: AwareDatetime


class ConversionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    bank_ref: str
    user_id: str
    product_id: str
    amount_fen: int
    occurred_at: datetime
    recorded_at: datetime
    attributed: bool
    click_id: str | None
    post_id: str | None
    message_id: str | None
    campaign: str | None
    author_id: str | None
    replay: bool = Field(default=False, description="true when this bank_ref was reported before")
