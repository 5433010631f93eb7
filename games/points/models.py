"""Points tables: lots (what was earned, what is left, when it lapses), the draws that
took points out of lots, expiry notices sent, partner memberships and exchanges.

The balance itself is the member's ledger account (``points:<user>``, currency PTS);
the lots say where each point came from and when it lapses: Σ ``remaining`` of a
member's lots = that account's balance.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Column, Identity, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.dbtypes import UTCDateTime, at_field


class LotSource(StrEnum):
    SPENDING = "spending"  # card spending (the bank's spending events)
    MILESTONE = "milestone"  # a tree planted, a quiz streak, a referral (app.hooks.on_milestone)
    PARTNER = "partner"  # exchanged in from a partner programme
    ADJUSTMENT = "adjustment"  # operators, the demo seed


class PointsLot(SQLModel, table=True):
    __tablename__ = "points_lots"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining_within_amount"),
        CheckConstraint("source IN ('spending', 'milestone', 'partner', 'adjustment')", name="source_valid"),
        CheckConstraint("reversed_points >= 0 AND reversed_points <= amount", name="reversed_within_amount"),
        UniqueConstraint("user_id", "ref"),  # a lot is earned once per reason
        Index("ix_points_lots_user_expiry", "user_id", "expires_at"),
        Index("ix_points_lots_live_expiry", "expires_at", postgresql_where=text("remaining > 0")),
    )

    id: str = Field(primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", max_length=40)
    source: str = Field(max_length=16)
    ref: str = Field(max_length=96)  # e.g. "event:<id>", "milestone:tree_planted:<tree>"
    memo: str = Field(default="", max_length=120)
    amount: int = Field(sa_type=BigInteger())
    remaining: int = Field(sa_type=BigInteger())
    counts_for_tier: bool  # earned (spending, milestones), not bought in from partners
    # What refunds took back of this lot's earning (taken, or owed but already spent):
    # the tier counts ``amount - reversed_points`` (``service.tier_points``).
    reversed_points: int = Field(default=0, sa_type=BigInteger(), sa_column_kwargs={"server_default": "0"})
    earned_at: datetime = at_field()
    expires_at: datetime = at_field()
    transaction_id: str = Field(max_length=40)


class PointsDraw(SQLModel, table=True):
    """Points taken out of a lot (spent, held for an exchange, expired); a draw held for
    an exchange the partner refused is restored to its lot."""

    __tablename__ = "points_draws"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: int | None = Field(
        default=None,
        sa_column=Column("id", BigInteger(), Identity(), primary_key=True),
    )
    lot_id: str = Field(foreign_key="points_lots.id", index=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", max_length=40)
    ref: str = Field(index=True, max_length=96)  # what the points went to
    amount: int = Field(sa_type=BigInteger())
    restored: bool = Field(default=False)
    created_at: datetime = at_field()


class ExpiryNotice(SQLModel, table=True):
    """ "n points expire on …" sent once per member and lapse instant."""

    __tablename__ = "points_expiry_notices"

    user_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    expires_at: datetime = Field(primary_key=True, sa_type=UTCDateTime())
    points: int = Field(sa_type=BigInteger())
    sent_at: datetime = at_field()


class PartnerMember(SQLModel, table=True):
    """A member's number in a partner programme (for tier match and exchanges)."""

    __tablename__ = "points_partner_members"

    user_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    programme_id: str = Field(primary_key=True, max_length=32)
    member_no: str = Field(max_length=64)
    linked_at: datetime = at_field()


class ExchangeStatus(StrEnum):
    PENDING = "pending"  # sent (or to be sent) to the partner; points held
    CONFIRMED = "confirmed"  # the partner booked it
    REFUSED = "refused"  # the partner refused it definitively; held points released
    CANCELLED = "cancelled"  # the partner reversed it later (``exchange.cancel_by_partner``)


class ExchangeDirection(StrEnum):
    OUT = "out"  # our points → the partner's
    IN = "in"  # the partner's → our points


class PointsExchange(SQLModel, table=True):
    __tablename__ = "points_exchanges"
    __table_args__ = (
        CheckConstraint("points > 0 AND partner_amount > 0", name="amounts_positive"),
        CheckConstraint("status IN ('pending', 'confirmed', 'refused', 'cancelled')", name="status_valid"),
        CheckConstraint("direction IN ('out', 'in')", name="direction_valid"),
        Index("ix_points_exchanges_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
        Index("ix_points_exchanges_user_created", "user_id", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=40)  # also the partner's idempotency key
    user_id: str = Field(foreign_key="users.id", max_length=40)
    programme_id: str = Field(max_length=32)
    member_no: str = Field(max_length=64)
    direction: str = Field(max_length=3)
    points: int = Field(sa_type=BigInteger())  # ours
    partner_amount: int = Field(sa_type=BigInteger())  # theirs
    status: str = Field(max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = at_field()
    partner_ref: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=120)
    created_at: datetime = at_field()
    settled_at: datetime | None = at_field(nullable=True)
    cancel_ref: str | None = Field(default=None, max_length=64)  # the partner's reference for it
    cancelled_from: str | None = Field(default=None, max_length=16)  # pending | confirmed
    cancelled_at: datetime | None = at_field(nullable=True)


class SpendingPoints(SQLModel, table=True):
    """What one spending event earned (it may share a lot with others of its batch), and
    what refunds of it took back: ``reversed_points`` is owed pro rata to
    ``refunded_fen``; ``shortfall`` is the part the member had already spent."""

    __tablename__ = "points_spending"
    __table_args__ = (
        CheckConstraint("points > 0 AND amount_fen > 0", name="positive"),
        CheckConstraint("refunded_fen >= 0 AND refunded_fen <= amount_fen", name="refunded_within_amount"),
        CheckConstraint(
            "reversed_points >= 0 AND reversed_points <= points AND shortfall >= 0 AND shortfall <= reversed_points",
            name="reversed_within_points",
        ),
    )

    event_id: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="users.id", max_length=40, index=True)
    lot_id: str | None = Field(default=None, max_length=40)  # the lot its points went into
    points: int = Field(sa_type=BigInteger())
    amount_fen: int = Field(sa_type=BigInteger())
    refunded_fen: int = Field(default=0, sa_type=BigInteger())
    reversed_points: int = Field(default=0, sa_type=BigInteger())  # owed back so far (taken + shortfall)
    shortfall: int = Field(default=0, sa_type=BigInteger())  # owed but no longer there to take


class SpendingRefundPoints(SQLModel, table=True):
    """One refund's take-back, once per (event, ``refund_id``)."""

    __tablename__ = "points_spending_refunds"

    event_id: str = Field(primary_key=True, max_length=64)
    refund_id: str = Field(primary_key=True, max_length=96)
    user_id: str = Field(foreign_key="users.id", max_length=40)
    owed: int = Field(sa_type=BigInteger())
    taken: int = Field(sa_type=BigInteger())
    shortfall: int = Field(sa_type=BigInteger())
    created_at: datetime = at_field()
