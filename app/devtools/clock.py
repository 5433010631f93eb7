"""The dev clock (dev and test only): business time moved forward, shared and persisted.

``advance`` moves this worker's clock, publishes the offset in Redis (other workers read
it per request, ``sync``) and stores it in the database; ``restore`` reads it back when
a worker starts, so a restart never sends business time backwards (balls that ripened,
packets that were refunded stay so). The offset only grows: the stored value is
``GREATEST(old, new)``.

Each request's read is its own (a move made before a request arrived is always seen),
but at most ``SYNC_READS_AT_ONCE`` of a worker's reads are in flight: a burst of requests
(a 250-wide test burst) queues here instead of asking the Redis client for more
connections than it keeps (200 per node, ``app/redis.py``: past that it fails, it does
not wait) — the only Redis call a request makes before admission (``app/admission.py``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from app.devtools.models import DevClock
from app.runtime import Slot

if TYPE_CHECKING:
    from app.runtime import Runtime

SYNC_READS_AT_ONCE = 32
_SYNC_READS: Slot[asyncio.Semaphore] = Slot(
    "devtools.clock_reads", lambda rt: asyncio.Semaphore(SYNC_READS_AT_ONCE)
)


def _key(rt: Runtime) -> str:
    return rt.keys("dev", "clock_offset")


async def sync(rt: Runtime) -> None:
    """Pick up a move made on another worker (read from Redis)."""
    if not rt.settings.is_dev:
        return
    async with rt.slot(_SYNC_READS):
        offset = await rt.redis.get(_key(rt))
    if offset is not None:
        rt.clock.set_offset(float(offset))


async def advance(rt: Runtime, seconds: float, *, moved_by: str | None = None) -> None:
    """Move business time forward by ``seconds`` for every worker, persistently.
    Raises ValueError for a negative move."""
    await sync(rt)
    rt.clock.advance(seconds)
    offset = rt.clock.offset_s
    stmt = insert(DevClock).values(id=1, offset_s=offset, moved_by=moved_by, moved_at=rt.clock.now())
    stmt = stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={
            "offset_s": func.greatest(DevClock.offset_s, stmt.excluded.offset_s),
            "moved_by": stmt.excluded.moved_by,
            "moved_at": stmt.excluded.moved_at,
        },
    )
    async with rt.engine.begin() as conn:
        await conn.execute(stmt)
    await rt.redis.set(_key(rt), repr(offset))


async def restore(rt: Runtime) -> None:
    """At start-up (dev and test): continue from the stored offset."""
    if not rt.settings.is_dev:
        return
    async with rt.engine.connect() as conn:
        stored = await conn.scalar(select(DevClock.offset_s).where(DevClock.id == 1))
    if stored:
        rt.clock.set_offset(float(stored))
        await rt.redis.set(_key(rt), repr(rt.clock.offset_s))
    await sync(rt)
