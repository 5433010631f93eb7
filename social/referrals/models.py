"""Referral codes, who referred whom, and the rewards paid (once per referee, by constraint)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index
from sqlmodel import Field, SQLModel

from app.dbenums import enum_field, one_of
from app.dbtypes import at_field


class ReferralStatus(StrEnum):
    PENDING = "pending"  # until the referee links a first card
    REWARDED = "rewarded"
    CAPPED = "capped"  # the referrer had their yearly rewards already


class ReferralCode(SQLModel, table=True):
    __tablename__ = "referral_codes"

    user_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    code: str = Field(unique=True, max_length=16)
    created_at: datetime = at_field()


class Referral(SQLModel, table=True):
    """One row per referee: the primary key makes "one referrer per user" a schema rule."""

    __tablename__ = "referrals"
    __table_args__ = (Index("ix_referrals_referrer_id", "referrer_id"), one_of("status", ReferralStatus))

    referee_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    referrer_id: str = Field(foreign_key="users.id", max_length=40)
    code: str = Field(max_length=16)
    status: ReferralStatus = enum_field(ReferralStatus, max_length=12, default=ReferralStatus.PENDING)
    created_at: datetime = at_field()


class ReferralReward(SQLModel, table=True):
    """The reward for one referee: the primary key makes "paid exactly once" a schema rule."""

    __tablename__ = "referral_rewards"
    __table_args__ = (Index("ix_referral_rewards_referrer_id_year", "referrer_id", "year"),)

    referee_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    referrer_id: str = Field(foreign_key="users.id", max_length=40)
    year: int
    amount_fen: int = Field(sa_type=BigInteger())
    transaction_id: str | None = Field(default=None, max_length=40)
    created_at: datetime = at_field()
