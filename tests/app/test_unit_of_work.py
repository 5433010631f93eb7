"""``app.uow.UnitOfWork``: the one way every caller (HTTP, WebSocket, jobs, CLI) runs a use
case — commit once, events after the commit, undo callbacks on any failure."""

from __future__ import annotations

import asyncio

import pytest

from app import uow as uow_module
from app.db import after_commit, in_unit_of_work, on_rollback, transaction
from app.ledger import service as ledger
from app.ledger.models import Account
from app.uow import UnitOfWork


async def open_account(db, rt, account_id: str) -> None:
    await ledger.open_account(db, account_id=account_id, kind="test", owner_id=None, now=rt.clock.now())


async def test_open_commits_once_then_runs_the_after_commit_callbacks_in_order(rt):
    seen: list[str] = []

    async def first() -> None:
        async with rt.sessionmaker() as other:  # the data is visible to others by now
            seen.append("first:" + str(await other.get(Account, "escrow:test:a") is not None))

    async def second() -> None:
        seen.append("second")

    async with UnitOfWork.open(rt.sessionmaker) as uow:
        await open_account(uow.db, rt, "escrow:test:a")
        uow.after_commit(first)
        after_commit(uow.db, second)  # the thin entry point reaches the same unit
        assert in_unit_of_work(uow.db)
        assert seen == []
    assert seen == ["first:True", "second"]


async def test_units_do_not_nest_and_callbacks_need_one(rt):
    async def noop() -> None:
        pass

    async with rt.sessionmaker() as db:
        with pytest.raises(RuntimeError, match="no unit of work"):
            after_commit(db, noop)
        with pytest.raises(RuntimeError, match="no unit of work"):
            on_rollback(db, noop)
        async with transaction(db):
            with pytest.raises(RuntimeError, match="do not nest"):
                async with UnitOfWork(db):
                    pass
        assert not in_unit_of_work(db)


async def test_a_failing_after_commit_callback_is_logged_and_the_others_still_run(rt, monkeypatch):
    logged: list[str] = []

    class Recorder:
        def exception(self, event: str, **fields: object) -> None:
            logged.append(event)

        def warning(self, event: str, **fields: object) -> None:
            logged.append(event)

    monkeypatch.setattr(uow_module, "log", Recorder())
    ran: list[str] = []

    async def broken() -> None:
        raise ConnectionError("redis went away")

    async def fine() -> None:
        ran.append("fine")

    async with rt.sessionmaker() as db:
        async with transaction(db):
            await open_account(db, rt, "escrow:test:b")
            after_commit(db, broken)
            after_commit(db, fine)
        assert await db.get(Account, "escrow:test:b") is not None  # committed all the same
    assert ran == ["fine"] and logged == ["after_commit_failed"]


async def test_a_cancelled_use_case_rolls_back_and_runs_its_undo_callbacks(rt):
    undone: list[str] = []
    started = asyncio.Event()

    async def undo() -> None:
        undone.append("undone")

    async def use_case() -> None:
        async with rt.sessionmaker() as db, transaction(db):
            await open_account(db, rt, "escrow:test:c")
            on_rollback(db, undo)
            started.set()
            await asyncio.Event().wait()  # cancelled here, e.g. the client went away

    task = asyncio.create_task(use_case())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert undone == ["undone"]
    async with rt.sessionmaker() as db:
        assert await db.get(Account, "escrow:test:c") is None


async def test_a_failing_commit_rolls_back_and_drops_the_events(rt):
    from sqlalchemy.exc import IntegrityError

    events: list[str] = []
    undone: list[str] = []

    async def event() -> None:
        events.append("sent")

    async def undo() -> None:
        undone.append("undone")

    async with rt.sessionmaker() as db:
        with pytest.raises(IntegrityError):
            async with transaction(db):
                after_commit(db, event)
                on_rollback(db, undo)
                db.add(Account(id=ledger.SETTLEMENT, kind="settlement", created_at=rt.clock.now()))
                # flushed at the commit: the duplicate key fails there
    assert events == [] and undone == ["undone"]
