"""The ledger's own rules and its invariants under concurrent debits."""

from __future__ import annotations

import anyio
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.db import transaction
from app.errors import InsufficientFunds, NotFound, ValidationFailed
from app.ids import new_id
from app.ledger import service as ledger
from app.ledger.service import Entry


async def test_unbalanced_or_fractional_postings_are_refused(rt, users):
    alice = await users.make("alice", balance_fen=100)
    wallet = ledger.wallet_account(alice.id)
    async with rt.sessionmaker() as db:
        for entries in (
            [Entry(wallet, -10), Entry(ledger.SETTLEMENT, 9)],
            [Entry(wallet, 0), Entry(ledger.SETTLEMENT, 0)],
            [],
        ):
            with pytest.raises(ValidationFailed):
                async with transaction(db):
                    await ledger.post(db, kind="test", entries=entries, now=rt.clock.now())
        with pytest.raises(ValidationFailed):
            ledger.move(wallet, ledger.SETTLEMENT, -5)
        with pytest.raises(NotFound):
            async with transaction(db):
                await ledger.post(
                    db,
                    kind="test",
                    entries=ledger.move(ledger.SETTLEMENT, "wallet:nobody", 5),
                    now=rt.clock.now(),
                )
        assert (await ledger.audit(db)).ok


async def test_a_wallet_never_goes_below_zero(rt, users):
    alice = await users.make("alice", balance_fen=100)
    async with rt.sessionmaker() as db:
        with pytest.raises(InsufficientFunds):
            async with transaction(db):
                await ledger.post(
                    db,
                    kind="test",
                    now=rt.clock.now(),
                    entries=ledger.move(ledger.wallet_account(alice.id), ledger.SETTLEMENT, 101),
                )
        assert await ledger.balance(db, ledger.wallet_account(alice.id)) == 100


async def test_concurrent_debits_never_overdraw(rt, users):
    """100 concurrent debits of 30 fen from a 1 000 fen wallet: exactly 33 succeed."""
    alice = await users.make("alice", balance_fen=1_000)
    wallet = ledger.wallet_account(alice.id)
    outcomes: list[str] = []

    async def debit() -> None:
        async with rt.sessionmaker() as db:
            try:
                async with transaction(db):
                    await ledger.post(
                        db,
                        kind="test",
                        now=rt.clock.now(),
                        entries=ledger.move(wallet, ledger.SETTLEMENT, 30),
                    )
                outcomes.append("ok")
            except InsufficientFunds:
                outcomes.append("short")

    async with anyio.create_task_group() as tg:
        for _ in range(100):
            tg.start_soon(debit)
    assert outcomes.count("ok") == 33
    async with rt.sessionmaker() as db:
        assert await ledger.balance(db, wallet) == 10
        audit = await ledger.audit(db)
        assert audit.ok, audit
        assert audit.postings_sum_fen == 0


async def test_settlement_balance_is_the_sum_of_its_postings(rt, users):
    await users.make("a", balance_fen=250)
    await users.make("b", balance_fen=750)
    async with rt.sessionmaker() as db:
        assert await ledger.balance(db, ledger.SETTLEMENT) == -1_000


async def test_a_refused_posting_changes_no_account(rt, users):
    """One account short of funds refuses the whole posting: no balance moves, no record."""
    alice = await users.make("alice", balance_fen=100)
    bob = await users.make("bob", balance_fen=100)
    a, b = ledger.wallet_account(alice.id), ledger.wallet_account(bob.id)
    async with rt.sessionmaker() as db:
        before = (await ledger.audit(db), await ledger.balance(db, ledger.SETTLEMENT))
        with pytest.raises(InsufficientFunds) as refused:
            async with transaction(db):
                await ledger.post(
                    db,
                    kind="test",
                    now=rt.clock.now(),
                    entries=[Entry(a, -60), Entry(b, -101), Entry(ledger.SETTLEMENT, 161)],
                )
        assert refused.value.body()["error"]["details"]["account_id"] == b
        assert await ledger.balance(db, a) == 100 and await ledger.balance(db, b) == 100
        assert (await ledger.audit(db), await ledger.balance(db, ledger.SETTLEMENT)) == before


async def test_opposite_moves_between_two_wallets_do_not_deadlock(rt, users):
    """Accounts are locked in id order, so A→B and B→A at once queue instead of deadlocking."""
    alice = await users.make("alice", balance_fen=1_000)
    bob = await users.make("bob", balance_fen=1_000)
    a, b = ledger.wallet_account(alice.id), ledger.wallet_account(bob.id)

    async def move(src: str, dst: str) -> None:
        async with rt.sessionmaker() as db, transaction(db):
            await ledger.post(db, kind="test", now=rt.clock.now(), entries=ledger.move(src, dst, 7))

    async with anyio.create_task_group() as tg:
        for i in range(60):
            tg.start_soon(move, *((a, b) if i % 2 else (b, a)))
    async with rt.sessionmaker() as db:
        assert await ledger.balance(db, a) == 1_000 and await ledger.balance(db, b) == 1_000
        assert (await ledger.audit(db)).ok


async def test_the_sql_function_refuses_each_bad_posting_with_its_code(rt, users):
    """``ledger_post`` itself (every money function calls it, not only ``ledger.post``):
    each refusal with its code, nothing written; a good posting answers the balances
    after it of the tracked accounts."""
    alice = await users.make("alice", balance_fen=100)
    wallet = ledger.wallet_account(alice.id)
    call = text(
        "SELECT ledger_post(:txn, 'test', CAST(:accounts AS text[]), CAST(:amounts AS bigint[]),"
        " CAST(:now AS timestamptz), NULL, '', :currency)"
    )
    cases = [
        ([], [], "CNY", "postings must sum to zero"),
        ([wallet, ledger.SETTLEMENT], [-10], "CNY", "postings must sum to zero"),
        ([wallet, ledger.SETTLEMENT], [-10, 9], "CNY", "postings must sum to zero"),
        ([wallet, ledger.SETTLEMENT], [0, 0], "CNY", "non-zero integers"),
        ([wallet, ledger.SETTLEMENT, wallet], [-5, 10, -5], "CNY", "one entry per account"),
        ([wallet, "wallet:nobody"], [-5, 5], "CNY", "account not found"),
        ([wallet, ledger.SETTLEMENT], [-5, 5], "PTS", "moves one currency"),
        ([wallet, ledger.SETTLEMENT], [-101, 101], "CNY", "insufficient funds"),
    ]
    async with rt.sessionmaker() as db:
        for accounts, amounts, currency, message in cases:
            params = {
                "txn": new_id("lt_"),
                "accounts": accounts,
                "amounts": amounts,
                "now": rt.clock.now(),
                "currency": currency,
            }
            with pytest.raises(DBAPIError, match=message):
                async with transaction(db):
                    await db.execute(call, params)
        params = {
            "txn": new_id("lt_"),
            "accounts": [wallet, ledger.SETTLEMENT],
            "amounts": [-40, 40],
            "now": rt.clock.now(),
            "currency": "CNY",
        }
        async with transaction(db):
            balances = (await db.execute(call, params)).scalar_one()
        assert balances == {wallet: 60}  # the settlement account tracks no balance
        postings = (
            await db.execute(
                text(
                    "SELECT account_id, amount_fen, balance_after_fen FROM ledger_postings"
                    " WHERE transaction_id = :txn ORDER BY amount_fen"
                ),
                params,
            )
        ).all()
        assert [tuple(p) for p in postings] == [(wallet, -40, 60), (ledger.SETTLEMENT, 40, None)]
        assert await ledger.balance(db, wallet) == 60
        assert (await ledger.audit(db)).ok
