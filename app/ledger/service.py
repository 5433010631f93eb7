"""Posting money: the only code that changes a ledger balance.

``post`` writes one balanced ledger transaction inside the caller's transaction, in one
statement (``_POST``): it locks the accounts (``FOR UPDATE``), checks every new balance
and only then writes. So two concurrent debits can never both pass a balance check, and
accounts are locked in id order so that transactions touching several accounts cannot
deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
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
    await db.execute(insert(Account).values(**values).on_conflict_do_nothing(index_elements=["id"]))


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

    Locks each tracked account row it changes, in account id order, until commit.
    """
    if not entries or sum(e.amount_fen for e in entries) != 0:
        raise ValidationFailed("postings must sum to zero")
    if any(not isinstance(e.amount_fen, int) or e.amount_fen == 0 for e in entries):
        raise ValidationFailed("posting amounts must be non-zero integers (fen)")
    if len({e.account_id for e in entries}) != len(entries):
        raise ValidationFailed("one entry per account in a ledger transaction")
    txn_id = new_id("lt_")
    changed = await _post_in_one_statement(db, txn_id, kind, entries, now, ref_id, memo)
    return Posted(transaction_id=txn_id, balances=changed)


# ``post`` in one round trip instead of one per account plus two inserts, so a money
# request holds its row locks for less time. It locks the tracked accounts in id order,
# decides, and changes balances and writes the transaction only if every account exists
# and stays ≥ 0 (otherwise it changes nothing and says which failed).
_POST = text(
    """
WITH entry AS (
    SELECT * FROM unnest(CAST(:accounts AS varchar[]), CAST(:amounts AS bigint[]))
        AS e(account_id, amount_fen)
), locked AS MATERIALIZED (
    SELECT a.id, a.balance_fen + e.amount_fen AS balance_after
    FROM ledger_accounts a JOIN entry e ON e.account_id = a.id
    WHERE a.tracks_balance
    ORDER BY a.id
    FOR UPDATE OF a
), verdict AS MATERIALIZED (
    SELECT count(*) = :n_tracked AND coalesce(bool_and(balance_after >= 0), true) AS ok FROM locked
), moved AS (
    UPDATE ledger_accounts a SET balance_fen = l.balance_after
    FROM locked l, verdict v
    WHERE v.ok AND a.id = l.id
), txn AS (
    INSERT INTO ledger_transactions (id, kind, ref_id, memo, created_at)
    SELECT :txn_id, :kind, :ref_id, :memo, CAST(:now AS timestamptz) FROM verdict WHERE ok
), postings AS (
    INSERT INTO ledger_postings (transaction_id, account_id, amount_fen, balance_after_fen, created_at)
    SELECT :txn_id, e.account_id, e.amount_fen, l.balance_after, CAST(:now AS timestamptz)
    FROM entry e LEFT JOIN locked l ON l.id = e.account_id, verdict v
    WHERE v.ok
)
SELECT v.ok, l.id, l.balance_after FROM verdict v LEFT JOIN locked l ON true
"""
)


async def _post_in_one_statement(
    db: AsyncSession,
    txn_id: str,
    kind: str,
    entries: Sequence[Entry],
    now: datetime,
    ref_id: str | None,
    memo: str,
) -> dict[str, int]:
    tracked = [e for e in entries if e.account_id not in SYSTEM_ACCOUNTS]
    params = {
        "accounts": [e.account_id for e in entries],
        "amounts": [e.amount_fen for e in entries],
        "n_tracked": len(tracked),
        "txn_id": txn_id,
        "kind": kind,
        "ref_id": ref_id,
        "memo": memo,
        "now": now,
    }
    rows = (await execute(db, _POST, params)).all()
    balances = {r.id: int(r.balance_after) for r in rows if r.id is not None}
    if rows[0].ok:
        return balances
    for e in sorted(tracked, key=lambda e: e.account_id):
        if e.account_id not in balances:
            raise NotFound("account not found", account_id=e.account_id)
        if balances[e.account_id] < 0:
            raise InsufficientFunds(account_id=e.account_id, needed_fen=-e.amount_fen)
    raise AssertionError("ledger post refused without a reason")  # unreachable


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


async def lines(db: AsyncSession, account_id: str) -> list[dict[str, object]]:
    """Every posting of an account, oldest first, with its transaction's kind and memo
    (a member's export)."""
    rows = (
        await db.execute(
            select(Posting, LedgerTransaction.kind, LedgerTransaction.memo)
            .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
            .where(Posting.account_id == account_id)
            .order_by(Posting.id)  # type: ignore[arg-type]
        )
    ).all()
    return [
        {
            "transaction_id": p.transaction_id,
            "kind": kind,
            "memo": memo,
            "amount_fen": p.amount_fen,
            "balance_after_fen": p.balance_after_fen,
            "created_at": p.created_at.isoformat(),
        }
        for p, kind, memo in rows
    ]
