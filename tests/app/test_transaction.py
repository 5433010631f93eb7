"""``app.db.transaction``: last steps run just before the commit, callbacks after it, undo
callbacks when it rolls back."""

from __future__ import annotations

import pytest

from app.db import after_commit, last_in_transaction, on_rollback, transaction
from app.ledger import service as ledger
from app.ledger.models import Account


async def refused_at_the_end() -> None:
    raise RuntimeError("refused at the end")


async def test_last_steps_run_after_the_body_and_before_the_commit(rt):
    order: list[str] = []

    async def last() -> None:
        order.append("last")

    async def committed() -> None:
        order.append("committed")

    async with rt.sessionmaker() as db:
        async with transaction(db):
            await last_in_transaction(db, last)
            after_commit(db, committed)
            order.append("body")
        assert order == ["body", "last", "committed"]


async def test_a_failing_body_skips_its_last_steps_and_a_failing_last_step_rolls_back(rt):
    ran: list[str] = []

    async def last() -> None:
        ran.append("last")

    async with rt.sessionmaker() as db:
        with pytest.raises(ValueError):
            async with transaction(db):
                await last_in_transaction(db, last)
                raise ValueError("the use case failed")
        assert ran == []
        with pytest.raises(RuntimeError):
            async with transaction(db):
                await ledger.open_account(
                    db, account_id="escrow:test:x", kind="test", owner_id=None, now=rt.clock.now()
                )
                await last_in_transaction(db, refused_at_the_end)
        assert await db.get(Account, "escrow:test:x") is None


async def test_outside_a_transaction_a_last_step_runs_at_once(rt):
    ran: list[str] = []

    async def step() -> None:
        ran.append("now")

    async with rt.sessionmaker() as db:
        await last_in_transaction(db, step)
    assert ran == ["now"]


async def test_undo_callbacks_run_when_the_body_or_a_last_step_fails_and_not_after_a_commit(rt):
    undone: list[str] = []

    async def undo() -> None:
        undone.append("undone")

    async with rt.sessionmaker() as db:
        async with transaction(db):
            on_rollback(db, undo)
        assert undone == []
        with pytest.raises(ValueError):
            async with transaction(db):
                on_rollback(db, undo)
                raise ValueError("the use case failed")
        assert undone == ["undone"]
        with pytest.raises(RuntimeError):
            async with transaction(db):
                on_rollback(db, undo)
                await last_in_transaction(db, refused_at_the_end)
        assert undone == ["undone", "undone"]
        async with transaction(db):
            pass  # a later transaction does not inherit the earlier undo callbacks
        assert undone == ["undone", "undone"]


async def test_a_unique_violation_is_known_by_its_sqlstate_and_constraint(rt):
    from sqlalchemy.exc import IntegrityError

    from app.db import is_unique_violation

    async with rt.sessionmaker() as db:
        with pytest.raises(IntegrityError) as caught:
            async with transaction(db):
                await ledger.open_system_accounts(db, rt.clock.now())
                db.add(Account(id=ledger.SETTLEMENT, kind="settlement", created_at=rt.clock.now()))
                await db.flush()
    assert is_unique_violation(caught.value)
    assert is_unique_violation(caught.value, "pk_ledger_accounts")
    assert not is_unique_violation(caught.value, "pk_idempotency_keys")
    assert not is_unique_violation(ValueError("unique"))
