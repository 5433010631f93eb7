"""Posting money: the only code that changes a ledger balance.

``post`` writes one balanced ledger transaction inside the caller's transaction, in one
statement: the SQL function ``ledger_post`` (``POST_SQL``; other features' SQL functions
call the same one), which locks the accounts (``FOR UPDATE``), checks every new balance
and only then writes. So two concurrent debits can never both pass a balance check, and
accounts are locked in id order so that transactions touching several accounts cannot
deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import execute
from app.errors import NotFound, ValidationFailed
from app.ids import new_id
from app.ledger.models import Account, Posting

SETTLEMENT = "system:settlement"  # the bank side of top-ups and withdrawals
REWARDS = "system:rewards"  # the bank's marketing budget (referral rewards)
SYSTEM_ACCOUNTS = {SETTLEMENT: "settlement", REWARDS: "rewards"}


WALLET_PREFIX = "wallet:"


def wallet_account(user_id: str) -> str:
    return f"{WALLET_PREFIX}{user_id}"


def escrow_account(kind: str, ref_id: str) -> str:
    return f"escrow:{kind}:{ref_id}"


@dataclass(frozen=True)
class Entry:
    account_id: str
    amount_fen: int  # + credit (balance grows), − debit


@dataclass(frozen=True)
class Posted:
    transaction_id: str
    balances: dict[str, int]  # tracked accounts' balances after the posting


OPEN_ACCOUNT_SQL = "ledger_open_account"
"""SQL (migration 1002): ``ledger_open_account(id, kind, owner_id, tracks_balance, now)``
creates the account if it does not exist yet (idempotent)."""

_OPEN_ACCOUNT = text(
    f"SELECT {OPEN_ACCOUNT_SQL}(:id, :kind, :owner_id, :tracks_balance, CAST(:now AS timestamptz))"
)


async def open_account(
    db: AsyncSession, *, account_id: str, kind: str, owner_id: str | None, now: datetime
) -> None:
    """Create the account if it does not exist yet (idempotent)."""
    values = {
        "id": account_id,
        "kind": kind,
        "owner_id": owner_id,
        "tracks_balance": account_id not in SYSTEM_ACCOUNTS,
        "now": now,
    }
    await execute(db, _OPEN_ACCOUNT, values)


async def post(
    db: AsyncSession,
    *,
    kind: str,
    entries: Sequence[Entry],
    now: datetime,
    ref_id: str | None = None,
    memo: str = "",
) -> Posted:
    """Write one balanced transaction. Raises ValidationFailed, InsufficientFunds, NotFound.

    Locks each tracked account row it changes, in account id order, until commit."""
    if any(type(e.amount_fen) is not int for e in entries):  # the SQL function checks the rest
        raise ValidationFailed("posting amounts must be non-zero integers (fen)")
    txn_id = new_id("lt_")
    params = {
        "txn_id": txn_id,
        "kind": kind,
        "accounts": [e.account_id for e in entries],
        "amounts": [e.amount_fen for e in entries],
        "now": now,
        "ref_id": ref_id,
        "memo": memo,
    }
    balances = (await execute(db, _POST, params)).scalar_one()
    return Posted(transaction_id=txn_id, balances={k: int(v) for k, v in balances.items()})


POST_SQL = "ledger_post"
"""The SQL function that posts (migration 1000), for other statements and functions:
``ledger_post(txn_id, kind, accounts text[], amounts bigint[], now, ref_id, memo)``
returns the tracked accounts' new balances (jsonb) or raises (``qz_raise``)
validation_failed, not_found or insufficient_funds. It validates the entries (they sum
to zero, no zero amount, one per account), locks the tracked accounts in id order,
checks every new balance and only then writes: two concurrent debits can never both
pass a balance check, and postings touching several accounts cannot deadlock."""

_POST = text(
    f"SELECT {POST_SQL}(:txn_id, :kind, CAST(:accounts AS text[]), CAST(:amounts AS bigint[]),"
    " CAST(:now AS timestamptz), :ref_id, :memo)"
)


def move(from_account: str, to_account: str, amount_fen: int) -> list[Entry]:
    """The two entries that move ``amount_fen`` from one account to another."""
    if amount_fen <= 0:
        raise ValidationFailed("amount must be positive", amount_fen=amount_fen)
    if from_account == to_account:
        raise ValidationFailed("cannot move money to the same account")
    return [Entry(from_account, -amount_fen), Entry(to_account, amount_fen)]


async def balance(db: AsyncSession, account_id: str) -> int:
    """An account's balance (Σ postings for the untracked system accounts). Raises NotFound."""
    account = await db.get(Account, account_id)
    if account is None:
        raise NotFound("account not found", account_id=account_id)
    if account.tracks_balance:
        return account.balance_fen
    total = await db.scalar(
        select(func.coalesce(func.sum(Posting.amount_fen), 0)).where(Posting.account_id == account_id)
    )
    return int(total or 0)


@dataclass(frozen=True)
class Audit:
    postings_sum_fen: int
    mismatched_accounts: list[str]
    negative_accounts: list[str]
    unbalanced_transactions: list[str]

    @property
    def ok(self) -> bool:
        return not (
            self.postings_sum_fen
            or self.mismatched_accounts
            or self.negative_accounts
            or self.unbalanced_transactions
        )


async def audit(db: AsyncSession) -> Audit:
    """Check the ledger's invariants: Σ postings = 0, every transaction balanced, every
    tracked balance equal to Σ of its postings and never negative."""
    total = int(await db.scalar(select(func.coalesce(func.sum(Posting.amount_fen), 0))) or 0)
    sums = (
        select(Posting.account_id, func.sum(Posting.amount_fen).label("s"))
        .group_by(Posting.account_id)
        .subquery()
    )
    mismatched = (
        (
            await db.execute(
                select(Account.id)
                .outerjoin(sums, sums.c.account_id == Account.id)
                .where(Account.tracks_balance, Account.balance_fen != func.coalesce(sums.c.s, 0))
            )
        )
        .scalars()
        .all()
    )
    negative = (
        (await db.execute(select(Account.id).where(Account.tracks_balance, Account.balance_fen < 0)))
        .scalars()
        .all()
    )
    unbalanced = (
        (
            await db.execute(
                select(Posting.transaction_id)
                .group_by(Posting.transaction_id)
                .having(func.sum(Posting.amount_fen) != 0)
            )
        )
        .scalars()
        .all()
    )
    return Audit(total, list(mismatched), list(negative), list(unbalanced))


async def open_system_accounts(db: AsyncSession, now: datetime) -> None:
    for account_id, kind in SYSTEM_ACCOUNTS.items():
        await open_account(db, account_id=account_id, kind=kind, owner_id=None, now=now)
