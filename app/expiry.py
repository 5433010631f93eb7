"""Sweeping what has expired: the loop behind the 24 h refunds of transfers and red packets.

``sweep`` reads the due ids in batches by ``expires_at`` (so a sweep catches up after
downtime) and handles each in its own transaction. It is safe on several workers at
once because each ``handle`` decides by a conditional update and answers whether it
acted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import end_read
from app.metrics import REFUNDS_SWEPT
from app.runtime import Runtime
from app.uow import UnitOfWork

BATCH = 200


async def sweep(
    rt: Runtime,
    *,
    pending: Any,
    expires_at: Any,
    handle: Callable[[AsyncSession, str], Awaitable[bool]],
    max_rounds: int = 50,
) -> int:
    """Run ``handle`` for every id that ``pending`` (a SELECT of ids still waiting) finds
    past ``expires_at`` (its expiry column), oldest first; returns how many this call
    handled."""
    handled = 0
    kind = getattr(getattr(expires_at, "table", None), "name", "other")  # the swept table
    async with rt.sessionmaker() as db:
        for _ in range(max_rounds):
            due = pending.where(expires_at <= rt.clock.now()).order_by(expires_at).limit(BATCH)
            ids = (await db.execute(due)).scalars().all()
            await end_read(db)
            if not ids:
                break
            for id_ in ids:
                async with UnitOfWork(db):  # one item, one unit of work: a failure undoes only it
                    done = bool(await handle(db, id_))
                handled += done
                REFUNDS_SWEPT.labels(kind).inc(done)
    return handled
