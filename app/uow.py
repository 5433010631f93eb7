"""The unit of work: one use case's transaction, its last steps, its after-commit events
and its rollback callbacks (after Cosmic Python's ``UnitOfWork``).

Every caller opens it the same way — an HTTP route's service, a WebSocket handler, a
periodic job, a CLI command::

    async with UnitOfWork(db) as uow:           # or: async with transaction(db):
        ...                                     # the use case's reads and writes
        uow.after_commit(push_frames)           # runs once the commit succeeded
        uow.on_rollback(give_back_ticket)       # runs if anything below fails
        await uow.last(bump_shared_counter)     # runs just before the commit

and, for a caller without a session of its own (jobs, the CLI)::

    async with UnitOfWork.open(rt.sessionmaker) as uow:
        await service.do_thing(uow.db, ...)

What it guarantees:

- **one commit**: the transaction begins on enter (a read that autobegan one before is
  ended first) and commits on a clean exit, after the ``last`` steps have run. Units
  do not nest: opening one on a session that already has one is a bug (RuntimeError).
- **events after the commit only**: ``after_commit`` callbacks run in the order queued,
  once the commit succeeded; nothing leaves the process for data that was rolled back.
  A failing callback is logged and the others still run — the use case has committed.
- **undo on any failure**: when the body, a last step or the commit fails (or the task
  is cancelled) the transaction rolls back, the after-commit queue is dropped and the
  ``on_rollback`` callbacks run (a failing one is logged; the original error is raised).

A use case whose every statement is complete on its own — one call of the SQL function
that applies all its rules (a grab, a transfer step, sending a red packet), or reads and
calls that each write all or nothing (a card-payment quote) — opens
``UnitOfWork(db, autocommit=True)``: each statement is its own transaction, so no BEGIN
and COMMIT are sent (two round trips fewer, on the hottest money paths). A statement then
commits as it returns, so what comes after it runs as after a commit; a money request
must write its key's record in its statement (``idempotency.run`` checks it).

``app.db.transaction``, ``after_commit``, ``on_rollback`` and ``last_in_transaction`` are
thin entry points over this class for code that holds only the session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction, async_sessionmaker

from app.replicas import REPLICAS_INFO, acting_user

log = structlog.get_logger()

Callback = Callable[[], Awaitable[Any]]

_KEY = "quanzi.unit_of_work"


class UnitOfWork:
    """One use case's transaction on ``db``; see the module docstring."""

    def __init__(self, db: AsyncSession, *, autocommit: bool = False) -> None:
        self.db = db
        self.autocommit = autocommit
        self._last: list[Callback] = []
        self._after: list[Callback] = []
        self._undo: list[Callback] = []
        self._tx: AsyncSessionTransaction | None = None
        # Whose writes these are (for reads on replicas): the acting user unless set.
        self.writers: set[str] | None = None

    # -- finding the open unit ----------------------------------------------------------

    @staticmethod
    def current(db: AsyncSession) -> UnitOfWork | None:
        """The unit of work open on ``db``, if any."""
        found = db.info.get(_KEY)
        return found if isinstance(found, UnitOfWork) else None

    @staticmethod
    def require(db: AsyncSession) -> UnitOfWork:
        """The unit of work open on ``db``. Raises RuntimeError when there is none."""
        found = UnitOfWork.current(db)
        if found is None:
            raise RuntimeError("no unit of work is open on this session (use `async with transaction(db)`)")
        return found

    @staticmethod
    @asynccontextmanager
    async def open(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[UnitOfWork]:
        """A new session with a unit of work on it, for callers that hold no session."""
        async with sessionmaker() as db, UnitOfWork(db) as uow:
            yield uow

    # -- what a use case queues ---------------------------------------------------------

    def after_commit(self, callback: Callback) -> None:
        """Run ``callback`` once the transaction has committed."""
        self._after.append(callback)

    def on_rollback(self, callback: Callback) -> None:
        """Run ``callback`` if the transaction rolls back, whatever failed."""
        self._undo.append(callback)

    async def last(self, step: Callback) -> None:
        """Run ``step`` as the transaction's last writes, just before the commit (for a row
        many requests share: its lock is then held only for the commit)."""
        self._last.append(step)

    # -- the transaction ----------------------------------------------------------------

    async def __aenter__(self) -> UnitOfWork:
        db = self.db
        if UnitOfWork.current(db) is not None:
            raise RuntimeError("a unit of work is already open on this session; they do not nest")
        if db.in_transaction():
            # A read before the use case (e.g. loading the current user) autobegan one.
            await db.commit()
        db.info[_KEY] = self
        try:
            self._tx = await db.begin()
            if self.autocommit:  # each statement its own transaction: no BEGIN/COMMIT sent
                await db.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        except BaseException:
            db.info.pop(_KEY, None)
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc is None:
                try:
                    i = 0
                    while i < len(self._last):  # a last step may queue another
                        await self._last[i]()
                        i += 1
                    assert self._tx is not None
                    await self._tx.commit()
                except BaseException:
                    await self._rolled_back()
                    raise
            else:
                await self._rolled_back()
                return  # the body's exception propagates
        finally:
            self.db.info.pop(_KEY, None)
        replicas = self.db.info.get(REPLICAS_INFO)
        if replicas is not None:  # remember the users' writes, for their reads on replicas
            writers = self.writers
            if writers is None:
                user = acting_user.get()
                writers = {user} if user is not None else set()
            await replicas.note_writes(writers)
        await self._run("after_commit_failed", self._after)

    async def _rolled_back(self) -> None:
        self._after.clear()
        if self._tx is not None and self._tx.is_active:
            try:
                await self._tx.rollback()
            except Exception:  # a lost connection: the server rolls back; keep the first error
                log.warning("rollback_failed", exc_info=True)
        await self._run("rollback_callback_failed", self._undo)

    @staticmethod
    async def _run(event: str, callbacks: list[Callback]) -> None:
        for callback in callbacks:
            try:
                await callback()
            except Exception:
                log.exception(event, callback=getattr(callback, "__qualname__", repr(callback)))
