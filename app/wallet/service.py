"""A user's wallet: balance, statement, top-up from the linked card."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import User
from app.errors import Conflict, LimitExceeded
from app.ledger import service as ledger
from app.ledger.models import LedgerTransaction, Posting
from app.pagination import INT_CURSOR, Page, decode_cursor, encode_cursor
from app.runtime import Runtime
from app.wallet.schemas import StatementLine, TopupPublic, WalletPublic


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


async def topup(db: AsyncSession, rt: Runtime, *, user_id: str, amount_fen: int) -> TopupPublic:
    """Move money from the linked card (the bank's settlement account) into the wallet.

    Runs inside the caller's transaction (``idempotency.run``). Raises Conflict (no card),
    LimitExceeded."""
    if amount_fen > rt.settings.topup_max_fen:
        raise LimitExceeded("top-up above the limit", max_fen=rt.settings.topup_max_fen)
    is_cardholder = await db.scalar(select(User.is_cardholder).where(User.id == user_id))
    if not is_cardholder:
        raise Conflict("link a bank card before topping up", reason="no_card")
    wallet = ledger.wallet_account(user_id)
    posted = await ledger.post(
        db,
        kind="topup",
        entries=ledger.move(ledger.SETTLEMENT, wallet, amount_fen),
        now=rt.clock.now(),
        ref_id=user_id,
        memo="top-up from card",
    )
    return TopupPublic(
        transaction_id=posted.transaction_id, amount_fen=amount_fen, balance_fen=posted.balances[wallet]
    )
