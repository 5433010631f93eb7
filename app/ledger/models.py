"""The double-entry ledger: accounts, transactions and their postings.

A ledger transaction is a set of postings that sums to zero; it is written once and
never updated (corrections are new transactions). Every account and transaction has a
``currency``: ``CNY`` (amounts in fen) or ``PTS`` (loyalty points, ``games/points``); a
transaction moves one currency and Σ = 0 holds per currency, so the ``*_fen`` columns
hold an amount in the account's own unit (fen, or points). ``balance_fen`` is kept on wallet and
escrow accounts (per user, per transfer, per red packet) and checked ≥ 0 by the schema;
the two bank-side accounts (settlement, rewards) may go negative and, being written by
every top-up and reward, keep no balance column (their balance is Σ of their postings),
so they never become a hot row.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Column, Identity
from sqlmodel import Field, SQLModel

from app.dbtypes import at_field, fen_field


class Currency(StrEnum):
    CNY = "CNY"  # money, in fen
    PTS = "PTS"  # loyalty points (games/points)


_CURRENCY_VALID = "currency IN ('CNY', 'PTS')"


class Account(SQLModel, table=True):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint("balance_fen >= 0", name="balance_not_negative"),
        CheckConstraint(_CURRENCY_VALID, name="currency_valid"),
    )

    id: str = Field(
        primary_key=True, max_length=64
    )  # "wallet:<user>", "escrow:transfer:<id>", "system:settlement"
    kind: str = Field(max_length=24)  # wallet | transfer_escrow | red_packet_escrow | settlement | rewards
    owner_id: str | None = Field(default=None, index=True, max_length=40)
    currency: str = Field(
        default=Currency.CNY.value, max_length=3, sa_column_kwargs={"server_default": "CNY"}
    )
    balance_fen: int = fen_field(default=0)  # in the account's currency (fen, or points)
    tracks_balance: bool = Field(default=True)
    created_at: datetime = at_field()


class LedgerTransaction(SQLModel, table=True):
    __tablename__ = "ledger_transactions"
    __table_args__ = (CheckConstraint(_CURRENCY_VALID, name="currency_valid"),)

    id: str = Field(primary_key=True, max_length=40)
    currency: str = Field(
        default=Currency.CNY.value, max_length=3, sa_column_kwargs={"server_default": "CNY"}
    )
    kind: str = Field(max_length=32)
    ref_id: str | None = Field(default=None, index=True, max_length=64)
    memo: str = Field(default="", max_length=200)
    created_at: datetime = at_field()


class Posting(SQLModel, table=True):
    __tablename__ = "ledger_postings"

    id: int | None = Field(
        default=None,
        sa_column=Column("id", BigInteger(), Identity(), primary_key=True),
    )
    transaction_id: str = Field(foreign_key="ledger_transactions.id", index=True, max_length=40)
    account_id: str = Field(foreign_key="ledger_accounts.id", index=True, max_length=64)
    amount_fen: int = fen_field()  # signed: + increases the account's balance
    balance_after_fen: int | None = Field(default=None, sa_type=BigInteger())
    created_at: datetime = at_field()
