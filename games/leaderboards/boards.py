"""Rebuilding boards from the database: the per-period totals a feature's rebuild is made
of, and the full rebuild of every registered board (``quanzi leaderboards rebuild``). The
forest registers ``energy``, the farm ``eggs`` and the energy engine ``steps`` from their
own packages."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

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


async def rebuild_all(rt: Runtime) -> dict[str, int]:
    """Recompute every registered board's current buckets from the database and swap them in."""
    now = rt.clock.now()
    counts: dict[str, int] = {}
    for name, board in sorted(registry.BOARDS.items()):
        computed = await board.rebuild(rt)
        for period in scores.PERIODS:
            members = {uid: by_period[period] for uid, by_period in computed.items() if by_period.get(period)}
            await scores.replace_board(rt, board=name, period=period, at=now, members=members)
        counts[name] = len(computed)
    return counts
