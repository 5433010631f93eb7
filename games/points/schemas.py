"""Request and response shapes of the points routes (``/v1/me/points``, tiers, partners)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from app.types import INT64_MAX


class LotPublic(BaseModel):
    id: str
    source: str  # spending | milestone | partner | adjustment
    memo: str
    amount: int  # points earned in this lot
    remaining: int  # points left in it
    earned_at: datetime
    expires_at: datetime  # the instant it lapses
    last_day: date  # the last business day it can be spent (bank's time zone)


class ExpiringPublic(BaseModel):
    points: int
    expires_at: datetime
    last_day: date


class PointsPublic(BaseModel):
    balance: int  # spendable points (live lots)
    currency: str = "PTS"
    pending_out: int  # held for exchanges to partners that are not confirmed yet
    lots: list[LotPublic]  # live lots, earliest-expiring (spent) first
    expiring_soon: list[ExpiringPublic]  # within the notice window (default 30 days)


class PointsLine(BaseModel):
    id: str
    transaction_id: str
    kind: str  # points_earned | points_spent | points_expired | points_held | points_released | points_adjustment
    memo: str
    points: int  # signed
    balance_after: int | None
    created_at: datetime


class TierPublic(BaseModel):
    id: str
    name: str
    min_points: int
    earn_multiplier: float
    monthly_rights: list[str]


class PartnerTierPublic(BaseModel):
    programme_id: str
    name: str
    tier: str | None  # the partner's tier ours maps to (null: no match at this tier)
    member_no: str | None  # my number there, if linked


class TiersPublic(BaseModel):
    tier: TierPublic  # the tier I hold
    rolling_points: int  # earned in the rolling window (default 12 months) ending today
    window_months: int
    next_tier: TierPublic | None
    points_to_next: int | None
    downgrade_on: date | None  # held above what the rolling total reaches: the day it falls
    grace_days: int
    partners: list[PartnerTierPublic]
    tiers: list[TierPublic]  # the ladder


class PartnerLinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member_no: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")


class RatePublic(BaseModel):
    points: int
    partner: int


class ProgrammePublic(BaseModel):
    id: str
    name: str
    unit: str
    out_rate: RatePublic  # our points → theirs
    in_rate: RatePublic  # theirs → our points
    min_points: int
    daily_cap_points: int
    monthly_cap_points: int
    connected: bool  # exchanges can be sent now
    member_no: str | None


class ExchangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    programme_id: str = Field(min_length=1, max_length=32)
    direction: Literal["out", "in"]
    points: StrictInt = Field(gt=0, le=INT64_MAX)  # our points (given for "out", received for "in")


class ExchangePublic(BaseModel):
    id: str
    programme_id: str
    direction: str
    points: int
    partner_amount: int
    status: str  # pending | confirmed | refused | cancelled
    attempts: int
    partner_ref: str | None
    reason: str | None
    created_at: datetime
    settled_at: datetime | None
    cancelled_at: datetime | None = None  # the partner reversed it on their side


class PartnerCancelIn(BaseModel):
    """A partner's cancellation of an exchange it had booked or not yet answered."""

    model_config = ConfigDict(extra="forbid")
    partner_ref: str = Field(
        pattern=r"^[A-Za-z0-9._:\-]{1,64}$",
        description="the partner's reference for this cancellation: the same one again is the same call",
    )
    reason: str | None = Field(default=None, min_length=1, max_length=120)


class PartnerCancelPublic(BaseModel):
    exchange_id: str
    programme_id: str
    direction: str  # out | in
    status: Literal["cancelled"]
    cancelled_from: str  # confirmed | pending
    points: int  # ours, as exchanged
    points_returned: int = Field(
        description="credited back to the member as a new lot (a confirmed outbound exchange)"
    )
    points_released: int = Field(
        description="held points back to the lots they came from (a pending outbound one)"
    )
    lot_expires_at: datetime | None = Field(
        description="the returned lot's expiry (the rules' default for points credited that day)"
    )
    partner_ref: str  # the cancellation's reference
    cancelled_at: datetime
