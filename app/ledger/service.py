"""Posting money: the only code that changes a ledger balance.

``post`` writes one balanced ledger transaction inside the caller's transaction, in one
statement: the SQL function ``ledger_post`` (``POST_SQL``; other features' SQL functions
call the same one), which locks the accounts (``FOR UPDATE``), checks every new balance
and only then writes. So two concurrent debits can never both pass a balance check, and
accounts are locked in id order so that transactions touching several accounts cannot
deadlock.

A transaction moves one currency (``currency``, default ``CNY``): every account it
touches must hold that currency, so Σ = 0 holds per currency. Points (``PTS``) have
their own system accounts (issued, redeemed, expired, partners) and user accounts
(``points:<user>``); the rules that move them live once in ``games/points``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db import execute
from app.errors import NotFound, ValidationFailed
from app.ids import new_id
from app.ledger.models import Account, LedgerTransaction, Posting
from app.ledger.models import Currency as Currency  # re-exported for features

SETTLEMENT = "system:settlement"  # the bank side of top-ups and withdrawals
REWARDS = "system:rewards"  # the bank's marketing budget (referral rewards)
# Points (PTS): where earned points come from, where spent and lapsed ones go, and the
# partner programmes' side of exchanges.
POINTS_ISSUED = "system:points_issued"
POINTS_REDEEMED = "system:points_redeemed"
POINTS_EXPIRED = "system:points_expired"
POINTS_PARTNERS = "system:points_partners"
SYSTEM_ACCOUNTS = {
    SETTLEMENT: "settlement",
    REWARDS: "rewards",
    POINTS_ISSUED: "points_issued",
    POINTS_REDEEMED: "points_redeemed",
    POINTS_EXPIRED: "points_expired",
    POINTS_PARTNERS: "points_partners",
}
SYSTEM_CURRENCY = {
    POINTS_ISSUED: Currency.PTS,
    POINTS_REDEEMED: Currency.PTS,
    POINTS_EXPIRED: Currency.PTS,
    POINTS_PARTNERS: Currency.PTS,
}  # the others: CNY


WALLET_PREFIX = "wallet:"


def wallet_account(user_id: str) -> str:
    return f"{WALLET_PREFIX}{user_id}"


def escrow_account(kind: str, ref_id: str) -> str:
    return f"escrow:{kind}:{ref_id}"


def points_account(user_id: str) -> str:
    """A member's points (PTS)."""
    return f"points:{user_id}"


@dataclass(frozen=True)
class Entry:
    account_id: str
    amount_fen: int  # + credit (balance grows), − debit


@dataclass(frozen=True)
class Posted:
    transaction_id: str
    balances: dict[str, int]  # tracked accounts' balances after the posting


OPEN_ACCOUNT_SQL = "ledger_open_account"
"""SQL (migrations 1002, 1003): ``ledger_open_account(id, kind, owner_id, tracks_balance,
now, currency DEFAULT 'CNY')`` creates the account if it does not exist yet (idempotent)."""

_OPEN_ACCOUNT = text(
    f"SELECT {OPEN_ACCOUNT_SQL}(:id, :kind, :owner_id, :tracks_balance, CAST(:now AS timestamptz), :currency)"
)


async def open_account(
    db: AsyncSession,
    *,
    account_id: str,
    kind: str,
    owner_id: str | None,
    now: datetime,
    currency: Currency = Currency.CNY,
) -> None:
    """Create the account if it does not exist yet (idempotent)."""
    values = {
        "id": account_id,
        "kind": kind,
        "owner_id": owner_id,
        "currency": currency.value,
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
    currency: Currency = Currency.CNY,
) -> Posted:
    """Write one balanced transaction in ``currency``. Raises ValidationFailed (also an
    account of another currency), InsufficientFunds, NotFound.

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
        "currency": currency.value,
    }
    balances = (await execute(db, _POST, params)).scalar_one()
    return Posted(transaction_id=txn_id, balances={k: int(v) for k, v in balances.items()})


POST_SQL = "ledger_post"
"""The SQL function that posts (migrations 1000, 1003), for other statements and
functions: ``ledger_post(txn_id, kind, accounts text[], amounts bigint[], now, ref_id,
memo, currency DEFAULT 'CNY')`` returns the tracked accounts' new balances (jsonb) or
raises (``qz_raise``) validation_error, not_found or insufficient_funds. It validates
the entries (they sum to zero, no zero amount, one per account, every account of the
transaction's currency), locks the tracked accounts in id order, checks every new
balance and only then writes: two concurrent debits can never both pass a balance
check, and postings touching several accounts cannot deadlock."""

_POST = text(
    f"SELECT {POST_SQL}(:txn_id, :kind, CAST(:accounts AS text[]), CAST(:amounts AS bigint[]),"
    " CAST(:now AS timestamptz), :ref_id, :memo, :currency)"
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
    postings_sum_fen: int  # Σ of the CNY postings
    mismatched_accounts: list[str]
    negative_accounts: list[str]
    unbalanced_transactions: list[str]  # per transaction, within its one currency
    sums_by_currency: dict[str, int] = field(default_factory=dict)  # Σ postings per currency
    mixed_transactions: list[str] = field(default_factory=list)  # touching another currency's account

    @property
    def ok(self) -> bool:
        return not (
            self.postings_sum_fen
            or any(self.sums_by_currency.values())
            or self.mismatched_accounts
            or self.negative_accounts
            or self.unbalanced_transactions
            or self.mixed_transactions
        )


async def audit(db: AsyncSession) -> Audit:
    """Check the ledger's invariants per currency: Σ postings = 0, every transaction
    balanced and in one currency (its accounts' currency), every tracked balance equal to
    Σ of its postings and never negative."""
    by_currency = {
        str(c): int(s)
        for c, s in (
            await db.execute(
                select(Account.currency, func.sum(Posting.amount_fen))
                .join(Account, Account.id == Posting.account_id)
                .group_by(Account.currency)
            )
        ).all()
    }
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
    mixed = (
        (
            await db.execute(
                select(Posting.transaction_id)
                .distinct()
                .join(Account, Account.id == Posting.account_id)
                .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
                .where(Account.currency != LedgerTransaction.currency)
            )
        )
        .scalars()
        .all()
    )
    return Audit(
        by_currency.get(Currency.CNY.value, 0),
        list(mismatched),
        list(negative),
        list(unbalanced),
        by_currency,
        list(mixed),
    )


async def open_system_accounts(db: AsyncSession, now: datetime) -> None:
    for account_id, kind in SYSTEM_ACCOUNTS.items():
        currency = SYSTEM_CURRENCY.get(account_id, Currency.CNY)
        await open_account(db, account_id=account_id, kind=kind, owner_id=None, now=now, currency=currency)


@dataclass(frozen=True)
class Line:
    """One posting on an account, with its transaction's kind and memo (a statement line)."""

    id: int
    transaction_id: str
    kind: str
    memo: str
    amount: int
    balance_after: int | None
    created_at: datetime


async def lines(db: AsyncSession, *, account_id: str, limit: int, before: int | None) -> list[Line]:
    """An account's postings, newest first, ``limit`` of them below posting id ``before``."""
    query = (
        select(Posting, LedgerTransaction.kind, LedgerTransaction.memo)
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .where(Posting.account_id == account_id)
        .order_by(Posting.id.desc())  # type: ignore[union-attr]
        .limit(limit)
    )
    if before is not None:
        query = query.where(Posting.id < before)  # type: ignore[operator]
    return [
        Line(
            id=int(p.id or 0),
            transaction_id=p.transaction_id,
            kind=kind,
            memo=memo,
            amount=p.amount_fen,
            balance_after=p.balance_after_fen,
            created_at=p.created_at,
        )
        for p, kind, memo in (await db.execute(query)).all()
    ]


_LOCK_ACCOUNT = text("SELECT balance_fen FROM ledger_accounts WHERE id = :id FOR UPDATE")
_TRY_LOCK_ACCOUNT = text("SELECT balance_fen FROM ledger_accounts WHERE id = :id FOR UPDATE SKIP LOCKED")


async def lock_account(db: AsyncSession, account_id: str, *, skip_locked: bool = False) -> int | None:
    """Lock an account's row until commit (``FOR UPDATE``), for a use case that must decide
    before it posts; its balance, or None when there is no such account (with
    ``skip_locked``: also when another transaction holds it — a sweep moves on)."""
    stmt = _TRY_LOCK_ACCOUNT if skip_locked else _LOCK_ACCOUNT
    row = (await execute(db, stmt, {"id": account_id})).first()
    return None if row is None else int(row.balance_fen)


_TRY_LOCK_ACCOUNTS = text(
    'SELECT id FROM ledger_accounts WHERE id = ANY (CAST(:ids AS varchar[])) ORDER BY id COLLATE "C"'
    " FOR UPDATE SKIP LOCKED"
)
_LOCK_ACCOUNTS = text(
    'SELECT id FROM ledger_accounts WHERE id = ANY (CAST(:ids AS varchar[])) ORDER BY id COLLATE "C"'
    " FOR UPDATE"
)


async def lock_accounts(
    db: AsyncSession, account_ids: Sequence[str], *, skip_locked: bool = False
) -> list[str]:
    """Lock many accounts' rows until commit, in id order (as ``ledger_post`` does); the
    ids locked (with ``skip_locked``: without those another transaction holds — a
    set-based sweep moves on)."""
    stmt = _TRY_LOCK_ACCOUNTS if skip_locked else _LOCK_ACCOUNTS
    return [str(i) for i in (await execute(db, stmt, {"ids": list(account_ids)})).scalars()]


def wallet_flows(since: datetime, until: datetime, user_id: str | None = None) -> Select[Any]:
    """Money into and out of each member's CNY wallet in ``[since, until]`` as
    ``(user_id, inflow, outflow)`` in fen: a selectable for set-based statements (the
    nightly insights job), or one member's with ``user_id``."""
    q: Any = (
        select(
            col(Account.owner_id).label("user_id"),
            func.sum(func.greatest(Posting.amount_fen, 0)).label("inflow"),
            func.sum(func.greatest(-Posting.amount_fen, 0)).label("outflow"),
        )
        .join(Account, Account.id == Posting.account_id)
        .where(
            Account.kind == "wallet",
            Account.currency == Currency.CNY.value,
            Posting.created_at >= since,
            Posting.created_at <= until,
        )
        .group_by(Account.owner_id)
    )
    if user_id is not None:
        q = q.where(Account.owner_id == user_id)
    return q
