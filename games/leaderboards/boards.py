"""Rebuilding boards from the database: the per-period totals a feature's rebuild is made
of, and the full rebuild of every registered board (``quanzi leaderboards rebuild``). The
forest registers ``energy``, the farm ``eggs`` and the energy engine ``steps`` from their
own packages."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth
from app.db import after_commit
from app.runtime import Runtime
from games.leaderboards import registry, scores
from games.leaderboards.registry import Scores


def period_starts(rt: Runtime, now: datetime) -> dict[str, datetime]:
    """Start of the current day and ISO week in the bank's zone (UTC-aware)."""
    local = rt.clock.local(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return {"day": local, "week": local - timedelta(days=local.weekday())}


async def totals_by_period(rt: Runtime, totals: Callable[[datetime | None], Any]) -> Scores:
    """A board's current scores from ``totals(since)``: a query of (user id, total) over
    what happened since ``since`` (None: all time), run for the day, the week and all time."""
    now = rt.clock.now()
    starts = period_starts(rt, now)
    out: Scores = defaultdict(dict)
    async with rt.sessionmaker() as db:
        for period, since in (("day", starts["day"]), ("week", starts["week"]), ("all", None)):
            for uid, total in (await db.execute(totals(since))).all():
                out[uid][period] = float(total or 0)
    return dict(out)


async def forget(db: AsyncSession, rt: Runtime, user_id: str) -> None:
    """An erased member leaves every board's current buckets (after commit); a rebuild
    leaves erased accounts out too."""
    now = rt.clock.now()

    async def remove() -> None:
        async with rt.redis.pipeline(transaction=False) as pipe:
            for name in registry.BOARDS:
                for period in scores.PERIODS:
                    pipe.zrem(scores.key(rt, name, period, now), user_id)
            await pipe.execute()

    after_commit(db, remove)


async def personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> dict[str, Any]:
    """The member's scores on every board's current buckets (their export's
    ``leaderboards`` section); a board they are not on is left out."""
    now = rt.clock.now()
    names = sorted(registry.BOARDS)
    async with rt.redis.pipeline(transaction=False) as pipe:
        for name in names:
            for period in scores.PERIODS:
                pipe.zscore(scores.key(rt, name, period, now), user_id)
        found = iter(await pipe.execute())
    out: dict[str, Any] = {}
    for name in names:
        mine = {p: float(v) for p in scores.PERIODS if (v := next(found)) is not None}
        if mine:
            out[name] = mine
    return out


async def rebuild_all(rt: Runtime) -> dict[str, int]:
    """Recompute every registered board's current buckets from the database and swap them in."""
    now = rt.clock.now()
    counts: dict[str, int] = {}
    async with rt.sessionmaker() as db:
        erased = await auth.erased_ids(db)  # gone from every board (``forget``), also after a rebuild
    for name, board in sorted(registry.BOARDS.items()):
        computed = {uid: s for uid, s in (await board.rebuild(rt)).items() if uid not in erased}
        for period in scores.PERIODS:
            members = {uid: by_period[period] for uid, by_period in computed.items() if by_period.get(period)}
            await scores.replace_board(rt, board=name, period=period, at=now, members=members)
        counts[name] = len(computed)
    return counts
