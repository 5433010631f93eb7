"""At start-up: rebuild the boards from the database when Redis has none of them.

Leaderboards live in Redis sorted sets; the in-process Redis of the demo (``memory://``)
and a Redis restarted without persistence come up empty. A marker key says the boards
were built on this Redis: without it, every registered board's current day, week and
all-time buckets are recomputed from SQL (``boards.rebuild_all``, which swaps each set in
whole, so two workers starting at once do the same work, not double counts).
"""

from __future__ import annotations

import structlog

from app.runtime import Runtime
from games.leaderboards import boards

log = structlog.get_logger()


def marker(rt: Runtime) -> str:
    # v2: the buckets' keys carry the board as a hash tag (``scores.key``); a Redis that
    # holds only the untagged ones of an earlier release is rebuilt once.
    return rt.keys("lb", "built", "v2")


async def on_startup(rt: Runtime) -> None:
    if await rt.redis.exists(marker(rt)):
        return
    counts = await boards.rebuild_all(rt)
    await rt.redis.set(marker(rt), rt.clock.now().isoformat())
    log.info("leaderboards_rebuilt", boards=counts)
