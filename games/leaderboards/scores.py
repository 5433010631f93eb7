"""Leaderboard scores in Redis sorted sets: the write side every feature calls.

One sorted set per (board, period, bucket), buckets in the bank's time zone:
``lb:<board>:day:2026-11-25``, ``lb:<board>:week:2026-W48``, ``lb:<board>:all:all``.
Boards: ``energy``, ``steps``, ``eggs`` (games) and ``creators`` (content). Redis is a
cache here: every board can be rebuilt from the database.
"""

from __future__ import annotations

from datetime import datetime

from app.redis import hash_tag
from app.runtime import Runtime

PERIODS = ("day", "week", "all")
# Day and week sets are kept a while after their period ends, then expire.
TTL_S = {"day": 8 * 24 * 3600, "week": 35 * 24 * 3600}


def bucket(rt: Runtime, period: str, at: datetime) -> str:
    local = rt.clock.local(at)
    if period == "day":
        return local.date().isoformat()
    if period == "week":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return "all"


def key(rt: Runtime, board: str, period: str, at: datetime) -> str:
    # One hash tag per board: a rebuild's RENAME and a MULTI over a board's buckets stay
    # on one Redis Cluster slot.
    return rt.keys("lb", hash_tag(board), period, bucket(rt, period, at))


async def add_score(rt: Runtime, *, board: str, user_id: str, delta: float, at: datetime) -> None:
    """Add ``delta`` to the user's score on every period of ``board`` (call after commit)."""
    async with rt.redis.pipeline(transaction=False) as pipe:
        for period in PERIODS:
            k = key(rt, board, period, at)
            pipe.zincrby(k, delta, user_id)
            if period in TTL_S:
                pipe.expire(k, TTL_S[period])
        await pipe.execute()


async def set_score(
    rt: Runtime, *, board: str, period: str, at: datetime, user_id: str, score: float
) -> None:
    """Set a score outright (steps: the day's running total)."""
    k = key(rt, board, period, at)
    async with rt.redis.pipeline(transaction=False) as pipe:
        pipe.zadd(k, {user_id: score})
        if period in TTL_S:
            pipe.expire(k, TTL_S[period])
        await pipe.execute()


async def replace_board(
    rt: Runtime, *, board: str, period: str, at: datetime, members: dict[str, float]
) -> None:
    """Swap a bucket's whole content at once (the rebuild): write a temporary set, RENAME it over."""
    k = key(rt, board, period, at)
    if not members:
        await rt.redis.delete(k)
        return
    tmp = f"{k}:rebuild"
    items = list(members.items())
    # MULTI: the temporary set and the live one share the board's hash tag, so on a Redis
    # Cluster this is one slot.
    async with rt.redis.pipeline(transaction=True) as pipe:
        pipe.delete(tmp)
        for i in range(0, len(items), 10_000):
            pipe.zadd(tmp, dict(items[i : i + 10_000]))
        # The command itself: redis-py's cluster pipeline blocks its ``rename`` method
        # (keys may be on two slots); inside this MULTI they are on one.
        pipe.execute_command("RENAME", tmp, k)
        if period in TTL_S:
            pipe.expire(k, TTL_S[period])
        await pipe.execute()
