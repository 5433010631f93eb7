"""A user's wallet: balance, statement, money in from the bank, and the daily limits.

- ``count_outgoing``: the one daily outgoing limit (``outgoing_daily_max_fen`` per user
  per business day, in the bank's time zone). Every feature that moves money out of a
  wallet to someone else (transfers, red packets, …) calls it in its own transaction,
  so one total covers them all.
- ``bank_topup``: the bank pays a cardholder's wallet from its settlement account, once
  per bank reference (``POST /v1/bank/topups``, service token).
- ``topup``: the dev/test convenience (``POST /v1/wallet/topup``), capped per user per
  day (``dev_topup_daily_max_fen``); absent in prod.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import User
from app.db import execute, transaction
from app.errors import Conflict, LimitExceeded, NotFound
from app.ledger import service as ledger
from app.ledger.models import LedgerTransaction, Posting
from app.pagination import INT_CURSOR, Page, decode_cursor, encode_cursor
from app.runtime import Runtime
from app.wallet.models import BankTopup, DailyKind
from app.wallet.schemas import BankTopupPublic, StatementLine, TopupPublic, WalletPublic


async def get_wallet(db: AsyncSession, *, user_id: str) -> WalletPublic:
    return WalletPublic(balance_fen=await ledger.balance(db, ledger.wallet_account(user_id)))


async def statement(db: AsyncSession, *, user_id: str, limit: int, cursor: str | None) -> Page[StatementLine]:
    """My wallet's ledger lines, newest first."""
    before = decode_cursor(cursor, INT_CURSOR)
    query = (
        select(Posting, LedgerTransaction.kind, LedgerTransaction.memo)
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .where(Posting.account_id == ledger.wallet_account(user_id))
        .order_by(Posting.id.desc())  # type: ignore[union-attr]
        .limit(limit + 1)
    )
    if before is not None:
        query = query.where(Posting.id < before)  # type: ignore[operator]
    rows = (await db.execute(query)).all()
    items = [
        StatementLine(
            id=str(p.id),
            transaction_id=p.transaction_id,
            kind=kind,
            memo=memo,
            amount_fen=p.amount_fen,
            balance_after_fen=p.balance_after_fen,
            created_at=p.created_at,
        )
        for p, kind, memo in rows[:limit]
    ]
    next_cursor = encode_cursor(rows[limit - 1][0].id) if len(rows) > limit else None
    return Page[StatementLine](items=items, next_cursor=next_cursor)


COUNT_DAILY_SQL = "wallet_count_daily"
"""SQL (migration 1000): ``wallet_count_daily(user, kind, day, amount, limit)`` adds
``amount`` to the day's total of a kind unless that crosses ``limit`` (then false);
locks the user's row of the day and kind."""
COUNT_OUTGOING_SQL = "wallet_count_outgoing"
"""SQL (migration 1000): ``wallet_count_outgoing(user, day, amount, limit)``, the daily
outgoing limit (``count_outgoing``) for other statements and functions; raises
limit_exceeded (``qz_raise``)."""

_COUNT_DAILY = text(
    f"SELECT {COUNT_DAILY_SQL}(:user_id, :kind, CAST(:day AS date), CAST(:amount_fen AS bigint),"
    " CAST(:p_limit AS bigint))"
)
_COUNT_OUTGOING = text(
    f"SELECT {COUNT_OUTGOING_SQL}(:user_id, CAST(:day AS date), CAST(:amount_fen AS bigint),"
    " CAST(:p_limit AS bigint))"
)


async def _count_daily(
    db: AsyncSession, *, user_id: str, kind: DailyKind, day: date, amount_fen: int, limit: int
) -> bool:
    """Add ``amount_fen`` to the day's total of ``kind`` unless that crosses ``limit``;
    False when it would. Locks the user's row of the day and kind."""
    params = {"user_id": user_id, "day": day, "kind": kind.value, "amount_fen": amount_fen, "p_limit": limit}
    return bool((await execute(db, _COUNT_DAILY, params)).scalar())


async def count_outgoing(db: AsyncSession, rt: Runtime, *, user_id: str, amount_fen: int) -> None:
    """Count money leaving ``user_id``'s wallet to other people (a transfer, a red packet,
    …) against the one daily outgoing limit of the business day (bank's time zone). Every
    sum sent that day counts, also one later declined or refunded.

    In the caller's transaction; locks the user's outgoing row of the day until commit.
    Raises LimitExceeded (``details.limit`` is ``"outgoing_daily"``)."""
    params = {
        "user_id": user_id,
        "day": rt.clock.today(),
        "amount_fen": amount_fen,
        "p_limit": rt.settings.outgoing_daily_max_fen,
    }
    await execute(db, _COUNT_OUTGOING, params)


async def _require_cardholder(db: AsyncSession, user_id: str) -> None:
    """Raises NotFound (no such user), Conflict (no card linked)."""
    is_cardholder = await db.scalar(select(User.is_cardholder).where(User.id == user_id))
    if is_cardholder is None:
        raise NotFound("user not found", user_id=user_id)
    if not is_cardholder:
        raise Conflict("link a bank card before topping up", reason="no_card")


async def _credit_from_bank(
    db: AsyncSession, rt: Runtime, *, user_id: str, amount_fen: int, memo: str
) -> Any:
    """Post settlement → wallet for a cardholder. Raises NotFound, Conflict (no card), LimitExceeded."""
    if amount_fen > rt.settings.topup_max_fen:
        raise LimitExceeded("top-up above the limit", limit="topup", max_fen=rt.settings.topup_max_fen)
    await _require_cardholder(db, user_id)
    return await ledger.post(
        db,
        kind="topup",
        entries=ledger.move(ledger.SETTLEMENT, ledger.wallet_account(user_id), amount_fen),
        now=rt.clock.now(),
        ref_id=user_id,
        memo=memo,
    )


def _bank_topup_public(t: BankTopup) -> BankTopupPublic:
    return BankTopupPublic(
        bank_ref=t.bank_ref,
        user_id=t.user_id,
        amount_fen=t.amount_fen,
        transaction_id=t.transaction_id,
        created_at=t.created_at,
    )


_bank_topups = BankTopup.__table__  # type: ignore[attr-defined]


async def bank_topup(
    db: AsyncSession, rt: Runtime, *, bank_ref: str, user_id: str, amount_fen: int
) -> tuple[BankTopupPublic, bool]:
    """The bank pays ``amount_fen`` from its settlement account into a cardholder's wallet,
    once per ``bank_ref``: the same reference again returns the first top-up (created
    False). One transaction; the reference's row is inserted first, so a concurrent call
    with the same reference waits for this one and then finds it.

    Raises NotFound (no such user), Conflict (not a cardholder; the reference was used for
    another user or amount), LimitExceeded (above ``topup_max_fen``)."""
    now = rt.clock.now()
    async with transaction(db):
        existing = await db.get(BankTopup, bank_ref)
        if existing is None:
            await _require_cardholder(db, user_id)
            claimed = (
                await execute(
                    db,
                    pg_insert(_bank_topups)
                    .values(
                        bank_ref=bank_ref,
                        user_id=user_id,
                        amount_fen=amount_fen,
                        transaction_id="",
                        created_at=now,
                    )
                    .on_conflict_do_nothing(index_elements=["bank_ref"])
                    .returning(_bank_topups.c.bank_ref),
                )
            ).first()
            if claimed is None:  # a concurrent call with this reference committed first
                existing = await db.get(BankTopup, bank_ref, populate_existing=True)
        if existing is not None:
            if (existing.user_id, existing.amount_fen) != (user_id, amount_fen):
                raise Conflict(
                    "bank_ref was already used for another top-up",
                    reason="bank_ref_reused",
                    bank_ref=bank_ref,
                )
            return _bank_topup_public(existing), False
        posted = await _credit_from_bank(
            db, rt, user_id=user_id, amount_fen=amount_fen, memo="top-up from the bank"
        )
        await execute(
            db,
            update(_bank_topups)
            .where(_bank_topups.c.bank_ref == bank_ref)
            .values(transaction_id=posted.transaction_id),
        )
    return (
        BankTopupPublic(
            bank_ref=bank_ref,
            user_id=user_id,
            amount_fen=amount_fen,
            transaction_id=posted.transaction_id,
            created_at=now,
        ),
        True,
    )


async def topup(db: AsyncSession, rt: Runtime, *, user_id: str, amount_fen: int) -> TopupPublic:
    """Dev/test only: move money from the bank's settlement account into a cardholder's
    wallet, within ``dev_topup_daily_max_fen`` per user per business day.

    Runs inside the caller's transaction (``idempotency.run``). Raises Conflict (no card),
    LimitExceeded."""
    if amount_fen > rt.settings.topup_max_fen:
        raise LimitExceeded("top-up above the limit", limit="topup", max_fen=rt.settings.topup_max_fen)
    day, limit = rt.clock.today(), rt.settings.dev_topup_daily_max_fen
    if not await _count_daily(
        db, user_id=user_id, kind=DailyKind.DEV_TOPUP, day=day, amount_fen=amount_fen, limit=limit
    ):
        raise LimitExceeded(
            "daily top-up limit reached", limit="dev_topup_daily", daily_max_fen=limit, day=day.isoformat()
        )
    posted = await _credit_from_bank(db, rt, user_id=user_id, amount_fen=amount_fen, memo="top-up from card")
    wallet = ledger.wallet_account(user_id)
    return TopupPublic(
        transaction_id=posted.transaction_id, amount_fen=amount_fen, balance_fen=posted.balances[wallet]
    )
