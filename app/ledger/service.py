"""Posting money: the only code that changes a ledger balance.

``post`` writes one balanced ledger transaction inside the caller's transaction. Each
tracked account is changed by a conditional ``UPDATE … WHERE balance_fen + Δ >= 0``,
which takes the row lock on PostgreSQL and the write lock on SQLite, so two concurrent
debits can never both pass a balance check. Accounts are updated in id order so that
transactions touching several accounts cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import execute
from app.errors import InsufficientFunds, NotFound, ValidationFailed
from app.ids import new_id
from app.ledger.models import Account, LedgerTransaction, Posting

SETTLEMENT = "system:settlement"  # the bank side of top-ups and withdrawals
REWARDS = "system:rewards"  # the bank's marketing budget (referral rewards)
SYSTEM_ACCOUNTS = {SETTLEMENT: "settlement", REWARDS: "rewards"}


def wallet_account(user_id: str) -> str:
    return f"wallet:{user_id}"


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


async def open_account(
    db: AsyncSession, *, account_id: str, kind: str, owner_id: str | None, now: datetime
) -> None:
    """Create the account if it does not exist yet (idempotent)."""
    values = {
        "id": account_id,
        "kind": kind,
        "owner_id": owner_id,
        "balance_fen": 0,
        "tracks_balance": account_id not in SYSTEM_ACCOUNTS,
        "created_at": now,
    }
    dialect = db.get_bind().dialect.name
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(Account).values(**values)
    await db.execute(stmt.on_conflict_do_nothing(index_elements=["id"]))


_accounts = Account.__table__  # type: ignore[attr-defined]
# Built once: the hot path only binds values.
_CHANGE_BALANCE = (
    update(_accounts)
    .where(_accounts.c.id == bindparam("account"), _accounts.c.balance_fen + bindparam("delta") >= 0)
    .values(balance_fen=_accounts.c.balance_fen + bindparam("delta"))
    .returning(_accounts.c.balance_fen)
)
_INSERT_TRANSACTION = insert(LedgerTransaction.__table__)  # type: ignore[attr-defined]
_INSERT_POSTING = insert(Posting.__table__)  # type: ignore[attr-defined]


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

    Locks each tracked account row it changes (conditional UPDATE) until commit.
    """
    if not entries or sum(e.amount_fen for e in entries) != 0:
        raise ValidationFailed("postings must sum to zero")
    if any(not isinstance(e.amount_fen, int) or e.amount_fen == 0 for e in entries):
        raise ValidationFailed("posting amounts must be non-zero integers (fen)")
    balances: dict[str, int] = {}
    for entry in sorted(entries, key=lambda e: e.account_id):
        if entry.account_id in SYSTEM_ACCOUNTS:
            continue
        row = (
            await execute(db, _CHANGE_BALANCE, {"account": entry.account_id, "delta": entry.amount_fen})
        ).first()
        if row is None:
            exists = await db.scalar(select(Account.id).where(Account.id == entry.account_id))
            if exists is None:
                raise NotFound("account not found", account_id=entry.account_id)
            raise InsufficientFunds(account_id=entry.account_id, needed_fen=-entry.amount_fen)
        balances[entry.account_id] = int(row[0])
    txn_id = new_id("lt_")
    await execute(
        db,
        _INSERT_TRANSACTION,
        {"id": txn_id, "kind": kind, "ref_id": ref_id, "memo": memo, "created_at": now},
    )
    await execute(
        db,
        _INSERT_POSTING,
        [
            {
                "transaction_id": txn_id,
                "account_id": e.account_id,
                "amount_fen": e.amount_fen,
                "balance_after_fen": balances.get(e.account_id),
                "created_at": now,
            }
            for e in entries
        ],
    )
    return Posted(transaction_id=txn_id, balances=balances)


def move(from_account: str, to_account: str, amount_fen: int) -> list[Entry]:
    """The two entries that move ``amount_fen`` from one account to another."""
    if amount_fen <= 0:
        raise ValidationFailed("amount must be positive", amount_fen=amount_fen)
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
