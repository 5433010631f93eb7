"""Request and response bodies of the rights pool (权益)."""

from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import AwareDatetime, BaseModel, Field, StrictInt, model_validator

from games.rights.models import LimitPeriod, RightStatus, VoucherState

KIND_PATTERN = r"^[a-z0-9_]{1,32}$"
TIER_PATTERN = r"^[a-z0-9_]{1,16}$"
MERCHANT_PATTERN = r"^[A-Za-z0-9._:\-]{1,48}$"
# A voucher code as printed (QZ-XXXX-XXXX-XXXX-XXXX) or typed (dashes, spaces, lower case).
CODE_PATTERN = r"^[A-Za-z0-9 \-]{8,40}$"


class RightCreate(BaseModel):
    kind: str = Field(
        pattern=KIND_PATTERN, description="coupon, coffee, airport_fast_track, video_membership, …"
    )
    title: str = Field(min_length=1, max_length=80)
    description: str = Field(default="", max_length=500)
    partner: str = Field(default="", max_length=80)
    points_price: StrictInt | None = Field(
        default=None,
        ge=0,
        le=10_000_000,
        description="points a claim costs (0: free for every eligible member); null: not sold for "
        "points, only free for the tiers whose monthly rights list its kind",
    )
    tiers: list[str] = Field(
        default_factory=list, max_length=16, description="tiers that may claim it; [] for every tier"
    )
    stock: StrictInt = Field(ge=0, le=10_000_000)
    per_user_limit: StrictInt = Field(default=1, ge=1, le=1000)
    limit_period: LimitPeriod = LimitPeriod.MONTH
    voucher_valid_days: StrictInt = Field(default=30, ge=1, le=3660)
    available_from: AwareDatetime
    available_until: AwareDatetime

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.available_from >= self.available_until:
            raise ValueError("available_from must be before available_until")
        return self


class RightPatch(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=80)
    description: str | None = Field(default=None, max_length=500)
    status: RightStatus | None = None
    points_price: StrictInt | None = Field(default=None, ge=0, le=10_000_000)
    stock_total: StrictInt | None = Field(
        default=None, ge=0, le=10_000_000, description="the new total; never below what was issued"
    )
    per_user_limit: StrictInt | None = Field(default=None, ge=1, le=1000)
    available_until: AwareDatetime | None = None


class RightAdmin(BaseModel):
    id: str
    kind: str
    title: str
    description: str
    partner: str
    points_price: int | None
    tiers: list[str]
    free_for_tiers: list[str] = Field(description="tiers whose monthly rights (the rules) list this kind")
    stock_total: int
    stock_left: int
    per_user_limit: int
    limit_period: LimitPeriod
    voucher_valid_days: int
    available_from: datetime
    available_until: datetime
    status: RightStatus
    created_at: datetime
    updated_at: datetime


class RightPublic(BaseModel):
    """A right as a member sees it, with what they may do about it."""

    id: str
    kind: str
    title: str
    description: str
    partner: str
    points_price: int | None = Field(description="the price in points; null: only free for some tiers")
    tiers: list[str]
    free_for_tiers: list[str]
    stock_left: int
    per_user_limit: int
    limit_period: LimitPeriod
    voucher_valid_days: int
    available_until: datetime
    my_price_points: int | None = Field(
        description="what a claim would cost me now: 0 when it is free for my tier this month"
    )
    free_for_me: bool = Field(description="my tier's free monthly right of this kind is still unused")
    claimed_in_period: int = Field(description="vouchers of it I hold in the current period")
    claimable: bool
    reason: str | None = Field(
        description="why not, when not claimable: sold_out, tier, limit_reached, monthly_right_used, "
        "insufficient_points, not_available"
    )


class VoucherPublic(BaseModel):
    id: str
    right_id: str
    kind: str
    title: str
    partner: str
    code: str = Field(description="what the merchant checks; also in the QR code")
    state: VoucherState
    paid_points: int
    free_tier: str | None = Field(description="the tier it was free for, if it was")
    issued_at: datetime
    expires_at: datetime
    redeemed_at: datetime | None
    closed_at: datetime | None
    qr_url: str


class CodeIn(BaseModel):
    code: str = Field(pattern=CODE_PATTERN)
    merchant_id: str = Field(pattern=MERCHANT_PATTERN)


class VoucherCheck(BaseModel):
    """What a merchant learns of a code (never who holds it)."""

    voucher_id: str
    right_id: str
    kind: str
    title: str
    partner: str
    state: VoucherState
    redeemable: bool
    expires_at: datetime
    redeemed_at: datetime | None
    merchant_id: str | None = Field(description="who redeemed it")
