"""Rebuilding boards from the database: the per-period totals a feature's rebuild is made
of, the steps board, and the full rebuild of every registered board (``quanzi leaderboards
rebuild``). The forest registers ``energy`` and the farm ``eggs`` from their own packages."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from app.events.models import StepDay
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


def _week_days(day: date) -> tuple[date, date]:
    start = day - timedelta(days=day.weekday())
    return start, start + timedelta(days=6)


async def rebuild_steps(rt: Runtime) -> Scores:
    today = rt.clock.today()
    monday, sunday = _week_days(today)
    out: Scores = defaultdict(dict)
    async with rt.sessionmaker() as db:
        ranges: list[tuple[str, date | None, date | None]] = [
            ("day", today, today),
            ("week", monday, sunday),
            ("all", None, None),
        ]
        for period, lo, hi in ranges:
            q = select(StepDay.user_id, func.sum(StepDay.steps)).group_by(StepDay.user_id)
            if lo is not None and hi is not None:
                q = q.where(StepDay.day >= lo, StepDay.day <= hi)
            for uid, total in (await db.execute(q)).all():
                out[uid][period] = float(total or 0)
    return dict(out)


async def refresh_steps_user(rt: Runtime, *, user_id: str, at: datetime) -> None:
    """Set one user's steps scores for the day, week and all-time buckets of ``at`` from the database."""
    day = rt.clock.local(at).date()
    monday, sunday = _week_days(day)
    async with rt.sessionmaker() as db:
        base = select(func.coalesce(func.sum(StepDay.steps), 0)).where(StepDay.user_id == user_id)
        totals = {
            "day": await db.scalar(base.where(StepDay.day == day)),
            "week": await db.scalar(base.where(StepDay.day >= monday, StepDay.day <= sunday)),
            "all": await db.scalar(base),
        }
    for period, total in totals.items():
        await scores.set_score(
            rt, board="steps", period=period, at=at, user_id=user_id, score=float(total or 0)
        )


registry.register_board("steps", rebuild=rebuild_steps)


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
