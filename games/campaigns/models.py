"""Card-payment campaigns (用卡立减), their budget and use records, and the payments they discount.

PostgreSQL is the record; Redis only filters quotes quickly (``gate.py``). The invariants
live in the schema and in the hold function ``campaign_hold`` (migration 1200), which
writes a hold in one statement:

- ``campaigns.spent_fen`` (discounts held or paid, less what refunds gave back) is raised
  by a conditional UPDATE and CHECKed ≤ ``total_budget_fen``: the total budget is never
  exceeded, whatever the concurrency;
- ``campaign_days.spent_fen`` is the same per business day, raised by a conditional upsert
  against ``daily_budget_fen``;
- ``campaign_uses``' primary key (campaign, user, use key) is "one per cardholder": the use
  key is ``""`` (once per campaign) or the business day (once a day);
- ``campaign_payments``' primary key is the switch's ``payment_id``: a quote, capture or
  refund is decided once per payment, and a refund once per ``refund_id``.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, CheckConstraint, Index, text
from sqlmodel import Field, SQLModel

from app.dbenums import enum_field, one_of
from app.dbtypes import at_field, fen_field
from games.campaigns.rules import DiscountKind, Per


class CampaignStatus(StrEnum):
    DRAFT = "draft"  # being prepared: never applies
    SCHEDULED = "scheduled"  # applies between starts_at and ends_at
    PAUSED = "paused"  # stopped for now; resume makes it scheduled again
    ENDED = "ended"  # for good


class PaymentState(StrEnum):
    HELD = "held"  # quoted: the discount (if any) is held until hold_expires_at
    CAPTURED = "captured"  # paid: the discount is booked
    EXPIRED = "expired"  # not captured in time: the hold went back to the budget
    REFUNDED = "refunded"  # captured, then refunded in full


class Campaign(SQLModel, table=True):
    __tablename__ = "campaigns"
    __table_args__ = (
        one_of("kind", DiscountKind),
        one_of("per", Per),
        one_of("status", CampaignStatus),
        CheckConstraint("spent_fen >= 0 AND spent_fen <= total_budget_fen", name="within_budget"),
        CheckConstraint("total_budget_fen > 0", name="total_budget_positive"),
        CheckConstraint("daily_budget_fen IS NULL OR daily_budget_fen > 0", name="daily_budget_positive"),
        CheckConstraint("starts_at < ends_at", name="starts_before_it_ends"),
        CheckConstraint(
            "budget_returned_fen >= 0 AND budget_returned_fen <= total_budget_fen",
            name="budget_returned_within_budget",
        ),
        Index("ix_campaigns_status_ends_at", "status", "ends_at"),
        Index(
            "ix_campaigns_budget_unreturned", "ends_at", postgresql_where=text("budget_returned_at IS NULL")
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=64)
    description: str = Field(default="", max_length=200)
    kind: DiscountKind = enum_field(DiscountKind, max_length=12)
    min_amount_fen: int = fen_field(default=0)
    discount_fen: int = fen_field(default=0)  # threshold
    rate_bp: int = Field(default=0)  # percent, basis points
    cap_fen: int = fen_field(default=0)  # percent
    min_discount_fen: int = fen_field(default=0)  # random
    max_discount_fen: int = fen_field(default=0)  # random
    card_products: list[str] = Field(default_factory=list, sa_type=JSON())
    mccs: list[str] = Field(default_factory=list, sa_type=JSON())
    merchant_ids: list[str] = Field(default_factory=list, sa_type=JSON())
    channels: list[str] = Field(default_factory=list, sa_type=JSON())
    days_of_week: list[int] = Field(default_factory=list, sa_type=JSON())
    time_windows: list[list[int]] = Field(default_factory=list, sa_type=JSON())  # [[start_min, end_min]]
    per: Per = enum_field(Per, max_length=12)
    restore_use_on_refund: bool = Field(default=True)
    total_budget_fen: int = fen_field()
    daily_budget_fen: int | None = Field(default=None, sa_type=BigInteger(), nullable=True)
    spent_fen: int = fen_field(default=0)
    hold_s: int = Field(default=900)
    status: CampaignStatus = enum_field(CampaignStatus, max_length=12)
    starts_at: datetime = at_field()
    ends_at: datetime = at_field()
    # only members of this audience (app.audiences), checked at quote time as a stored row
    audience_id: str | None = Field(default=None, foreign_key="audience_segments.id", max_length=40)
    # Once it has ended and its last hold is closed, what was left on its budget account
    # went back to the account that funded it (``service.return_budget``), once.
    budget_returned_fen: int = fen_field(default=0)
    budget_returned_at: datetime | None = at_field(nullable=True)
    created_by: str = Field(max_length=40)
    created_at: datetime = at_field()
    updated_at: datetime = at_field()


class CampaignDay(SQLModel, table=True):
    """Discounts held or paid on one business day of a campaign (its daily budget)."""

    __tablename__ = "campaign_days"
    __table_args__ = (CheckConstraint("spent_fen >= 0", name="spent_not_negative"),)

    campaign_id: str = Field(primary_key=True, foreign_key="campaigns.id", max_length=40)
    day: date = Field(primary_key=True)
    spent_fen: int = fen_field(default=0)


class CampaignUse(SQLModel, table=True):
    """A cardholder's use of a campaign: ``use_key`` ``""`` (per campaign) or the day."""

    __tablename__ = "campaign_uses"

    campaign_id: str = Field(primary_key=True, foreign_key="campaigns.id", max_length=40)
    user_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    use_key: str = Field(primary_key=True, max_length=10)
    payment_id: str = Field(unique=True, max_length=64)
    created_at: datetime = at_field()


class CampaignPayment(SQLModel, table=True):
    """A card payment the switch quoted, with the discount held for it (if any)."""

    __tablename__ = "campaign_payments"
    __table_args__ = (
        one_of("state", PaymentState),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("discount_fen >= 0 AND discount_fen <= amount_fen", name="discount_within_amount"),
        CheckConstraint("refunded_fen >= 0 AND refunded_fen <= amount_fen", name="refund_within_amount"),
        CheckConstraint(
            "discount_reversed_fen >= 0 AND discount_reversed_fen <= discount_fen",
            name="reversal_within_discount",
        ),
        Index(
            "ix_campaign_payments_held_expiry",
            "hold_expires_at",
            postgresql_where=text("state = 'held' AND campaign_id IS NOT NULL"),
        ),
        Index("ix_campaign_payments_campaign_id_quoted_at", "campaign_id", "quoted_at"),
    )

    payment_id: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=40)
    card_ref: str = Field(max_length=64)
    merchant_id: str = Field(max_length=48)
    mcc: str = Field(max_length=4)
    channel: str = Field(max_length=12)
    category: str = Field(max_length=32)  # the spending event's category
    amount_fen: int = fen_field()
    campaign_id: str | None = Field(default=None, foreign_key="campaigns.id", max_length=40)
    discount_fen: int = fen_field(default=0)
    use_key: str | None = Field(default=None, max_length=10)
    day: date  # the business day of the quote (the daily budget it counts against)
    state: PaymentState = enum_field(PaymentState, max_length=12)
    refunded_fen: int = fen_field(default=0)  # of amount_fen
    discount_reversed_fen: int = fen_field(default=0)
    quoted_at: datetime = at_field()
    hold_expires_at: datetime | None = at_field(nullable=True)
    captured_at: datetime | None = at_field(nullable=True)
    closed_at: datetime | None = at_field(nullable=True)  # expired or fully refunded


class CampaignRefund(SQLModel, table=True):
    """A refund of a captured payment, once per ``refund_id``."""

    __tablename__ = "campaign_refunds"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    refund_id: str = Field(primary_key=True, max_length=64)
    payment_id: str = Field(foreign_key="campaign_payments.payment_id", index=True, max_length=64)
    amount_fen: int = fen_field()  # of the payment's amount
    discount_reversed_fen: int = fen_field()
    use_restored: bool = Field(default=False)
    created_at: datetime = at_field()
