"""Request and response bodies of card-payment campaigns."""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import Annotated, Self

import iso18245
from pydantic import AfterValidator, BaseModel, Field, StrictBool, StrictInt, model_validator

from app.auth.cards import CARD_PRODUCT_PATTERN, REF_PATTERN
from app.types import PositiveFen, Timestamp
from games.campaigns.models import CampaignStatus, PaymentState
from games.campaigns.rules import Channel, DiscountKind, Per

MERCHANT_PATTERN = r"^[A-Za-z0-9._:\-]{1,48}$"
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


@functools.cache
def _is_mcc(value: str) -> bool:
    # ``get_mcc`` reads the package's CSV tables at every call (a fifth of a quote's
    # validation); four digits make at most 10 000 answers to keep.
    try:
        iso18245.get_mcc(value)
    except (iso18245.MCCNotFound, iso18245.InvalidMCC):
        return False
    return True


def known_mcc(value: str) -> str:
    """A merchant category code of ISO 18245 (the ``iso18245`` package's table)."""
    if not _is_mcc(value):
        raise ValueError(f"unknown merchant category code {value!r} (ISO 18245)")
    return value


Mcc = Annotated[
    str,
    Field(pattern=r"^[0-9]{4}$", description="ISO 18245 merchant category code"),
    AfterValidator(known_mcc),
]
Fen = Annotated[StrictInt, Field(ge=0, le=100_000_000, description="integer fen")]
BudgetFen = Annotated[StrictInt, Field(gt=0, le=10_000_000_000, description="integer fen")]


# -- the payment switch (service token) ----------------------------------------------------


class QuoteIn(BaseModel):
    payment_id: str = Field(pattern=REF_PATTERN, description="the switch's id of the payment (1–64)")
    user_id: str = Field(min_length=1, max_length=40)
    card_ref: str = Field(pattern=REF_PATTERN, description="a card linked to that user")
    amount_fen: PositiveFen
    mcc: Mcc
    merchant_id: str = Field(pattern=MERCHANT_PATTERN)
    channel: Channel


class QuoteOut(BaseModel):
    payment_id: str
    discount_fen: int = Field(description="0 when no campaign applies")
    campaign_id: str | None = Field(description="null when no campaign applies")
    hold_expires_at: datetime | None = Field(description="until when the discount is held; null without one")


class CaptureOut(BaseModel):
    payment_id: str
    state: PaymentState
    amount_fen: int
    discount_fen: int
    paid_fen: int = Field(description="what the cardholder paid: amount − discount")
    campaign_id: str | None
    captured_at: datetime | None


class RefundIn(BaseModel):
    refund_id: str = Field(pattern=REF_PATTERN, description="the switch's id of this refund: once per id")
    amount_fen: PositiveFen | None = Field(
        default=None, description="the part of the payment's amount refunded; omitted: all that is left"
    )


class RefundOut(BaseModel):
    refund_id: str
    payment_id: str
    amount_fen: int = Field(description="of the payment's amount")
    discount_reversed_fen: int = Field(description="the share of the discount taken back from the refund")
    cardholder_refund_fen: int = Field(description="what goes back to the card: amount − discount reversed")
    use_restored: bool = Field(description="the cardholder may get this campaign again")
    state: PaymentState
    refunded_fen: int = Field(description="refunded so far, of the payment's amount")


# -- campaigns (admin) ---------------------------------------------------------------------


class TimeWindow(BaseModel):
    start: str = Field(pattern=_HHMM.pattern, description="HH:MM in the bank's zone")
    end: str = Field(pattern=_HHMM.pattern, description="HH:MM, exclusive; before start: crosses midnight")

    def minutes(self) -> tuple[int, int]:
        def m(text: str) -> int:
            h, mm = text.split(":")
            return int(h) * 60 + int(mm)

        return m(self.start), m(self.end)


class CampaignCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    description: str = Field(default="", max_length=200)
    kind: DiscountKind
    min_amount_fen: Fen = Field(default=0, description="the threshold (满100: 10000)")
    discount_fen: Fen = Field(default=0, description="threshold: the discount (减10: 1000)")
    rate_bp: StrictInt = Field(default=0, ge=0, le=10_000, description="percent: basis points (500 = 5 %)")
    cap_fen: Fen = Field(default=0, description="percent: the most one payment gets")
    min_discount_fen: Fen = Field(default=0, description="random: the least")
    max_discount_fen: Fen = Field(default=0, description="random: the most")
    card_products: list[Annotated[str, Field(pattern=CARD_PRODUCT_PATTERN)]] = Field(
        default=[], max_length=50
    )
    mccs: list[Mcc] = Field(default=[], max_length=500)
    merchant_ids: list[Annotated[str, Field(pattern=MERCHANT_PATTERN)]] = Field(default=[], max_length=500)
    channels: list[Channel] = Field(default=[], max_length=4)
    days_of_week: list[Annotated[StrictInt, Field(ge=1, le=7)]] = Field(
        default=[], max_length=7, description="ISO: 1 = Monday … 7 = Sunday; empty: every day"
    )
    time_windows: list[TimeWindow] = Field(default=[], max_length=8, description="empty: all day")
    per: Per = Field(default=Per.CAMPAIGN, description="one per cardholder per campaign, or per business day")
    restore_use_on_refund: StrictBool = Field(
        default=True, description="a full refund gives the cardholder their use back"
    )
    total_budget_fen: BudgetFen
    daily_budget_fen: BudgetFen | None = None
    hold_s: StrictInt = Field(
        default=900, ge=30, le=86_400, description="how long a quote holds the discount"
    )
    starts_at: Timestamp
    ends_at: Timestamp
    audience_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        description="only members of this audience (`/v1/admin/audiences`) get the discount",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.kind is DiscountKind.THRESHOLD:
            if self.discount_fen <= 0:
                raise ValueError("a threshold campaign needs discount_fen > 0")
            if self.min_amount_fen < self.discount_fen:
                raise ValueError("min_amount_fen must be at least discount_fen (满100减10)")
        elif self.kind is DiscountKind.PERCENT:
            if self.rate_bp <= 0 or self.cap_fen <= 0:
                raise ValueError("a percent campaign needs rate_bp > 0 and cap_fen > 0")
        elif not 0 < self.min_discount_fen <= self.max_discount_fen:
            raise ValueError("a random campaign needs 0 < min_discount_fen <= max_discount_fen")
        most = {
            DiscountKind.THRESHOLD: self.discount_fen,
            DiscountKind.PERCENT: self.cap_fen,
            DiscountKind.RANDOM: self.max_discount_fen,
        }[self.kind]
        if most > self.total_budget_fen or (
            self.daily_budget_fen is not None and most > self.daily_budget_fen
        ):
            raise ValueError("one discount must fit in the budgets")
        if self.daily_budget_fen is not None and self.daily_budget_fen > self.total_budget_fen:
            raise ValueError("daily_budget_fen cannot exceed total_budget_fen")
        return self


class CampaignSchedule(BaseModel):
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None


class Discount(BaseModel):
    kind: DiscountKind
    min_amount_fen: int
    discount_fen: int | None = None
    rate_bp: int | None = None
    cap_fen: int | None = None
    min_discount_fen: int | None = None
    max_discount_fen: int | None = None


class Limits(BaseModel):
    card_products: list[str]
    mccs: list[str]
    merchant_ids: list[str]
    channels: list[str]
    days_of_week: list[int]
    time_windows: list[TimeWindow]


class CampaignAdmin(BaseModel):
    id: str
    name: str
    description: str
    status: CampaignStatus
    running: bool = Field(description="scheduled and between starts_at and ends_at now")
    discount: Discount
    limits: Limits
    per: Per
    restore_use_on_refund: bool
    total_budget_fen: int
    daily_budget_fen: int | None
    spent_fen: int = Field(description="held or paid (less refunds)")
    remaining_fen: int
    today_spent_fen: int
    hold_s: int
    starts_at: datetime
    ends_at: datetime
    audience_id: str | None = Field(description="only members of this audience, or everyone")
    created_at: datetime


class CampaignList(BaseModel):
    items: list[CampaignAdmin]
    next_cursor: str | None


class BurnHour(BaseModel):
    hour: datetime = Field(description="the hour's start (UTC)")
    held_fen: int = Field(description="discounts of the quotes that hour")
    paid_fen: int = Field(description="discounts of the payments captured that hour")
    quotes: int
    captures: int


class BurnOut(BaseModel):
    campaign_id: str
    hours: list[BurnHour]


class CampaignReport(BaseModel):
    campaign_id: str
    payments: int = Field(description="captured payments with this campaign's discount")
    spend_fen: int = Field(description="their amounts")
    discount_paid_fen: int = Field(description="discounts captured, less what refunds took back")
    unique_cardholders: int
    refunds: int
    refunded_fen: int
    holds_open: int
    holds_expired: int
    budget_remaining_fen: int = Field(description="neither held, nor paid, nor returned")
    budget_returned_fen: int = Field(
        description="what went back to the account that funded the budget once the campaign"
        " ended and its last hold was captured or expired (0 until then)"
    )
    budget_returned_at: Timestamp | None = Field(description="when it went back; null until then")
    period_start: datetime = Field(description="the campaign's start")
    period_end: datetime = Field(description="its end, or now while it runs")
    previous_period_start: datetime = Field(description="the period of the same length just before it")
    cardholders_spend_fen: int = Field(
        description="what the campaign's cardholders spent by card (all spending events) during it"
    )
    previous_period_spend_fen: int = Field(
        description="what the same cardholders spent in the previous period"
    )
    incremental_spend_fen: int = Field(
        description="cardholders_spend_fen − previous_period_spend_fen (may be < 0)"
    )


# -- members -------------------------------------------------------------------------------


class MyCampaign(BaseModel):
    id: str
    name: str
    description: str
    discount: Discount
    limits: Limits
    per: Per
    uses_left: int = Field(description="1 when I may still get it (this campaign, or today), else 0")
    budget_left: bool = Field(description="false once the total budget is used up")
    starts_at: datetime
    ends_at: datetime


class MyCampaigns(BaseModel):
    items: list[MyCampaign]
