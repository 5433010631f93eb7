"""The ``steps`` leaderboard, from the daily step totals (registered in ``hooks.py``)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from app.runtime import Runtime
from games.energy.models import StepDay
from games.leaderboards import scores
from games.leaderboards.registry import Scores


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
