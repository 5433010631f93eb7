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

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import execute, transaction
from app.errors import Conflict, LimitExceeded
from app.idempotency import service as idempotency
from app.ids import new_id
from app.ledger import service as ledger
from app.ledger.models import LedgerTransaction, Posting
from app.pagination import INT_CURSOR, Page, decode_cursor, encode_cursor
from app.runtime import Runtime
from app.wallet.models import BankTopup
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

_COUNT_OUTGOING = text(
    f"SELECT {COUNT_OUTGOING_SQL}(:user_id, CAST(:day AS date), CAST(:amount_fen AS bigint),"
    " CAST(:p_limit AS bigint))"
)


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


REQUIRE_CARDHOLDER_SQL = "wallet_require_cardholder"
"""SQL (migration 2056): ``wallet_require_cardholder(user)`` raises not_found (no such
user) or conflict (``reason`` no_card): who may be topped up."""
CREDIT_FROM_BANK_SQL = "wallet_credit_from_bank"
"""SQL (migration 2056): ``wallet_credit_from_bank(user, amount, settlement, wallet, txn,
now, memo)``: ``REQUIRE_CARDHOLDER_SQL``, then the posting settlement → wallet
(``ledger.POST_SQL``); returns the wallet's balance after."""
DEV_TOPUP_SQL = "wallet_dev_topup"
"""SQL (migration 2056): the whole dev top-up — the day's count (``COUNT_DAILY_SQL``,
limit_exceeded), ``CREDIT_FROM_BANK_SQL`` and, given the request's key, its idempotency
record with the answer. Returns (response)."""

_REQUIRE_CARDHOLDER = text(f"SELECT {REQUIRE_CARDHOLDER_SQL}(:user_id)")
_CREDIT = text(
    f"SELECT {CREDIT_FROM_BANK_SQL}(:user_id, CAST(:amount_fen AS bigint), :settlement, :wallet, :txn,"
    " CAST(:now AS timestamptz), :memo)"
)
_DEV_TOPUP = text(
    f"SELECT * FROM {DEV_TOPUP_SQL}(:user_id, CAST(:amount_fen AS bigint), CAST(:day AS date),"
    " CAST(:p_limit AS bigint), :settlement, :wallet, :txn, CAST(:now AS timestamptz),"
    " :idem_key, :idem_fingerprint, CAST(:idem_status AS integer))"
)


def _check_topup_max(rt: Runtime, amount_fen: int) -> None:
    if amount_fen > rt.settings.topup_max_fen:
        raise LimitExceeded("top-up above the limit", limit="topup", max_fen=rt.settings.topup_max_fen)


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
            await execute(db, _REQUIRE_CARDHOLDER, {"user_id": user_id})  # before the reference's row
            _check_topup_max(rt, amount_fen)  # after the card, as before: no card answers no_card
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
        txn_id = new_id("lt_")
        credit = {
            "user_id": user_id,
            "amount_fen": amount_fen,
            "settlement": ledger.SETTLEMENT,
            "wallet": ledger.wallet_account(user_id),
            "txn": txn_id,
            "now": now,
            "memo": "top-up from the bank",
        }
        await execute(db, _CREDIT, credit)
        await execute(
            db,
            update(_bank_topups).where(_bank_topups.c.bank_ref == bank_ref).values(transaction_id=txn_id),
        )
    return (
        BankTopupPublic(
            bank_ref=bank_ref,
            user_id=user_id,
            amount_fen=amount_fen,
            transaction_id=txn_id,
            created_at=now,
        ),
        True,
    )


async def topup(db: AsyncSession, rt: Runtime, *, user_id: str, amount_fen: int) -> TopupPublic:
    """Dev/test only: move money from the bank's settlement account into a cardholder's
    wallet, within ``dev_topup_daily_max_fen`` per user per business day.

    Runs in the caller's transaction (``idem.run``), in one statement (``DEV_TOPUP_SQL``),
    which also writes the request's idempotency record with the answer. Raises NotFound,
    Conflict (no card), LimitExceeded."""
    _check_topup_max(rt, amount_fen)
    record = idempotency.Pending.take(db)  # the function stores the request's key and answer
    params = {
        "user_id": user_id,
        "amount_fen": amount_fen,
        "day": rt.clock.today(),
        "p_limit": rt.settings.dev_topup_daily_max_fen,
        "settlement": ledger.SETTLEMENT,
        "wallet": ledger.wallet_account(user_id),
        "txn": new_id("lt_"),
        "now": rt.clock.now(),
        **idempotency.key_params(record),
    }
    got = (await execute(db, _DEV_TOPUP, params)).one()
    if record is not None:
        record.stored(got.response)
    return TopupPublic.model_validate(got.response)
