"""Rights pool (权益) tables: the catalogue, each member's claims per period, the free
monthly tier rights taken, and the vouchers claims issue.

Concurrency is held by the schema: ``rights.stock_left`` is decremented by a conditional
UPDATE (``stock_left > 0``, and a CHECK keeps it ≥ 0), a member's claims per period by a
conditional upsert on ``rights_usage`` (``count < limit``), a free monthly tier right by
the primary key of ``rights_tier_claims`` (member, kind, month).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, CheckConstraint, Index, text
from sqlmodel import Field, SQLModel

from app.dbenums import enum_field, one_of
from app.dbtypes import at_field


class RightStatus(StrEnum):
    ACTIVE = "active"  # claimable within its window
    PAUSED = "paused"  # not claimable; vouchers issued stay valid


class LimitPeriod(StrEnum):
    DAY = "day"  # the bank's business day
    MONTH = "month"
    YEAR = "year"
    EVER = "ever"


class VoucherState(StrEnum):
    ISSUED = "issued"  # claimed, not used yet
    REDEEMED = "redeemed"  # a merchant redeemed it (once)
    EXPIRED = "expired"  # not used before expires_at (job ``voucher_expiry``)
    REFUNDED = "refunded"  # given back before use: points, stock and the claim returned


class Right(SQLModel, table=True):
    __tablename__ = "rights"
    __table_args__ = (
        one_of("status", RightStatus),
        one_of("limit_period", LimitPeriod),
        CheckConstraint("stock_left >= 0 AND stock_left <= stock_total", name="stock_within_total"),
        CheckConstraint("per_user_limit > 0", name="per_user_limit_positive"),
        CheckConstraint("points_price IS NULL OR points_price >= 0", name="points_price_not_negative"),
        CheckConstraint("voucher_valid_days > 0", name="voucher_valid_days_positive"),
        CheckConstraint("available_from < available_until", name="window_ordered"),
    )

    id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=32)  # coupon, coffee, airport_fast_track, video_membership, …
    title: str = Field(max_length=80)
    description: str = Field(default="", max_length=500)
    partner: str = Field(default="", max_length=80)
    # Points a claim costs; None: not sold for points (only free for a tier).
    points_price: int | None = Field(default=None, sa_type=BigInteger(), nullable=True)
    tiers: list[str] = Field(default_factory=list, sa_type=JSON())  # eligible tiers; [] = every tier
    stock_total: int = Field(sa_type=BigInteger())
    stock_left: int = Field(sa_type=BigInteger())
    per_user_limit: int = Field(default=1)
    limit_period: LimitPeriod = enum_field(LimitPeriod, max_length=8)
    voucher_valid_days: int = Field(default=30)
    available_from: datetime = at_field()
    available_until: datetime = at_field()
    status: RightStatus = enum_field(RightStatus, max_length=8)
    created_at: datetime = at_field()
    updated_at: datetime = at_field()


class RightUsage(SQLModel, table=True):
    """How many vouchers a member holds of a right in one period (refunds give one back)."""

    __tablename__ = "rights_usage"
    __table_args__ = (CheckConstraint("count >= 0", name="count_not_negative"),)

    user_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    right_id: str = Field(primary_key=True, foreign_key="rights.id", max_length=40)
    period: str = Field(primary_key=True, max_length=16)  # "d:2026-12-07", "m:2026-12", "y:2026", "ever"
    count: int = Field(default=0)


class TierClaim(SQLModel, table=True):
    """A free monthly tier right taken: one per member, right kind and month."""

    __tablename__ = "rights_tier_claims"

    user_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    kind: str = Field(primary_key=True, max_length=32)
    month: str = Field(primary_key=True, max_length=7)  # "2026-12", the bank's calendar
    voucher_id: str = Field(max_length=40)


class Voucher(SQLModel, table=True):
    __tablename__ = "vouchers"
    __table_args__ = (
        one_of("state", VoucherState),
        CheckConstraint("paid_points >= 0", name="paid_points_not_negative"),
        Index("ix_vouchers_user_id_id", "user_id", "id"),
        Index("ix_vouchers_issued_expiry", "expires_at", postgresql_where=text("state = 'issued'")),
    )

    id: str = Field(primary_key=True, max_length=40)
    code: str = Field(unique=True, max_length=32)  # secrets: 80 random bits, Crockford base32
    user_id: str = Field(foreign_key="users.id", max_length=40)
    right_id: str = Field(foreign_key="rights.id", max_length=40, index=True)
    state: VoucherState = enum_field(VoucherState, max_length=8)
    paid_points: int = Field(default=0, sa_type=BigInteger())
    free_tier: str | None = Field(default=None, max_length=16)  # the tier it was free for
    period: str = Field(max_length=16)  # the rights_usage period it counts in
    issued_at: datetime = at_field()
    expires_at: datetime = at_field()
    redeemed_at: datetime | None = at_field(nullable=True)
    merchant_id: str | None = Field(default=None, max_length=64)
    closed_at: datetime | None = at_field(nullable=True)  # redeemed, expired or refunded
