"""What a wallet needs besides the ledger: per-day running totals for its daily limits,
and the bank's top-ups, kept once per bank reference."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from app.dbenums import enum_field, one_of
from app.dbtypes import at_field, fen_field


class DailyKind(StrEnum):
    """Which daily limit a running total counts against."""

    OUTGOING = "outgoing"  # money that left the wallet to other people (transfers, red packets, …)
    DEV_TOPUP = "dev_topup"  # the dev/test top-up (``POST /v1/wallet/topup``)


class DailyUsage(SQLModel, table=True):
    """What a user has moved of one kind on one business day (the bank's time zone).

    Bumped by a conditional upsert (``amount_fen + x <= limit``) under the row lock, so two
    concurrent payments cannot both squeeze under the daily limit."""

    __tablename__ = "wallet_daily_usage"
    __table_args__ = (one_of("kind", DailyKind),)

    user_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    day: date = Field(primary_key=True)
    kind: DailyKind = enum_field(DailyKind, primary_key=True, max_length=16)
    amount_fen: int = fen_field(default=0)


class BankTopup(SQLModel, table=True):
    """A top-up the bank made (``POST /v1/bank/topups``), once per ``bank_ref``."""

    __tablename__ = "bank_topups"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    bank_ref: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=40)
    amount_fen: int = fen_field()
    transaction_id: str = Field(max_length=40)
    created_at: datetime = at_field()
