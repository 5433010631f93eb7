"""Spending and steps into energy: balls within the rules' caps, and feed for the farm.

``energy_for_spending`` listens for the bank's new spending events (``app.hooks``): an
event earns a ball when its category earns energy, its amount is large enough, and the
user's cap for the category's day or month is not used up. Caps are counted in
``energy_caps`` with a conditional upsert (``used = least(used + n, cap)``), so
concurrent batches for the same user never grant more than the cap. ``report_steps``
takes the phone's running step total for a day.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db import after_commit, transaction
from app.errors import ValidationFailed
from app.hooks import Spending, SpendingEffects
from app.runtime import Runtime
from games.energy import board
from games.energy.models import EnergyCap, StepDay
from games.energy.schemas import StepsPublic
from games.farm import service as farm
from games.forest import service as forest
from games.rules import energy as energy_rules
from games.rules import rules


async def energy_for_spending(db: AsyncSession, rt: Runtime, events: list[Spending]) -> SpendingEffects:
    """Balls and farm feed for newly recorded spending, in the caller's transaction."""
    r = rules()
    tz = rt.clock.tz
    now = rt.clock.now()
    effects = SpendingEffects()
    # Group the qualifying events by cap bucket, oldest first.
    groups: dict[tuple[str, str, str], list[Spending]] = defaultdict(list)
    for e in events:
        rule = r.energy.categories.get(e.category)
        if rule is None:
            effects.unknown_category += 1
        elif energy_rules.spending_grams(rule, e.amount_fen) <= 0:
            effects.unrewarded += 1
        else:
            groups[(e.user_id, e.category, energy_rules.cap_period_key(rule, e.occurred_at, tz))].append(e)
    grants = await _grant_caps(db, {k: len(v) for k, v in groups.items()})
    balls: list[dict[str, object]] = []
    feed: dict[str, int] = defaultdict(int)
    for (user_id, category, period), evs in sorted(groups.items()):
        rule = r.energy.categories[category]
        granted = int(grants[(user_id, category, period)])
        evs.sort(key=lambda e: (e.occurred_at, e.event_id))
        effects.unrewarded += len(evs) - granted
        for e in evs[:granted]:
            grams = energy_rules.spending_grams(rule, e.amount_fen)
            balls.append(
                forest.ball_row(
                    r,
                    forest.NewBall(
                        owner_id=user_id,
                        source=category,
                        source_ref=f"event:{e.event_id}",
                        amount_g=grams,
                        action_at=min(e.occurred_at, now),
                    ),
                    now=now,
                )
            )
            effects.reward_by_event[e.event_id] = grams
            feed[user_id] += r.farm.feed_per_spending_event_g
    await forest.add_balls(db, balls)
    await farm.add_feed_many(db, rt, grams_by_user=feed)
    effects.items_made = len(balls)
    return effects


async def _grant_caps(
    db: AsyncSession, wanted: dict[tuple[str, str, str], int]
) -> dict[tuple[str, str, str], int]:
    """Grant up to each bucket's cap in one upsert: ``used = min(used + wanted, cap)``,
    RETURNING what was granted. The row lock on conflict keeps concurrent batches exact."""
    if not wanted:
        return {}
    cats = rules().energy.categories
    rows = [
        {
            "user_id": u,
            "category": c,
            "period": p,
            "used": min(n, cats[c].cap),
            "last_grant": min(n, cats[c].cap),
        }
        for (u, c, p), n in sorted(wanted.items())
    ]
    stmt = insert(EnergyCap).values(rows)
    cap = case({name: rule.cap for name, rule in cats.items()}, value=EnergyCap.category, else_=0)
    new_used = func.least(EnergyCap.used + stmt.excluded.used, cap)
    stmt = stmt.on_conflict_do_update(
        index_elements=["user_id", "category", "period"],
        set_={"last_grant": new_used - EnergyCap.used, "used": new_used},
    ).returning(EnergyCap.user_id, EnergyCap.category, EnergyCap.period, EnergyCap.last_grant)
    return {(u, c, p): int(g) for u, c, p, g in (await db.execute(stmt)).all()}


async def report_steps(db: AsyncSession, rt: Runtime, *, user_id: str, day: date, steps: int) -> StepsPublic:
    """Record the day's running step total (today or yesterday, monotone) and grow the day's
    ball. Raises ValidationFailed (other days, absurd totals)."""
    r = rules()
    now = rt.clock.now()
    today = rt.clock.today()
    if day not in (today, today - timedelta(days=1)):
        raise ValidationFailed("steps are accepted for today and yesterday only", field="date")
    if steps > r.energy.steps.max_steps_per_day:
        raise ValidationFailed(
            "not a believable step count", field="steps", max=r.energy.steps.max_steps_per_day
        )
    grams = energy_rules.steps_grams(r.energy.steps, steps)
    ref = f"steps:{day.isoformat()}"
    async with transaction(db):
        await db.execute(
            insert(StepDay).values(user_id=user_id, day=day, steps=0, updated_at=now).on_conflict_do_nothing()
        )
        prev = await db.execute(
            update(StepDay)
            .where(StepDay.user_id == user_id, StepDay.day == day, StepDay.steps < steps)
            .values(steps=steps, updated_at=now)
            .returning(StepDay.steps)
        )
        raised = prev.scalar_one_or_none() is not None
        total = (
            steps
            if raised
            else int(
                await db.scalar(select(StepDay.steps).where(StepDay.user_id == user_id, StepDay.day == day))
                or 0
            )
        )
        if raised and grams > 0:
            action_at = energy_rules.steps_action_at(day, rt.clock.tz)
            await forest.add_balls(
                db,
                [
                    forest.ball_row(
                        r,
                        forest.NewBall(
                            owner_id=user_id,
                            source="steps",
                            source_ref=ref,
                            amount_g=grams,
                            action_at=action_at,
                        ),
                        now=now,
                    )
                ],
            )
            # Only grows, and only before it is ripe (see steps_action_at).
            await forest.grow_ball(db, owner_id=user_id, source_ref=ref, amount_g=grams, now=now)
        ball = await forest.ball_by_ref(db, owner_id=user_id, source_ref=ref)
        if raised:
            at = datetime.combine(day, datetime.min.time(), tzinfo=rt.clock.tz) + timedelta(hours=12)
            after_commit(db, lambda: board.refresh_steps_user(rt, user_id=user_id, at=at))
    return StepsPublic(
        date=day, steps=total, energy_g=ball[1] if ball else 0, ball_id=ball[0] if ball else None
    )


# -- a member's data (app/profile) --------------------------------------------------------


async def personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> dict[str, Any]:
    """The member's reported steps per day and the energy caps they used (their export's
    ``energy`` section)."""
    days = (
        await db.execute(select(StepDay).where(col(StepDay.user_id) == user_id).order_by(col(StepDay.day)))
    ).scalars()
    caps = (
        await db.execute(
            select(EnergyCap)
            .where(col(EnergyCap.user_id) == user_id)
            .order_by(col(EnergyCap.period), col(EnergyCap.category))
        )
    ).scalars()
    return {
        "steps": [{"day": d.day.isoformat(), "steps": d.steps} for d in days],
        "caps_used": [{"category": c.category, "period": c.period, "used": c.used} for c in caps],
    }


async def erase_personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> None:
    """An erased member's steps and energy caps are deleted (they leave the steps board)."""
    await db.execute(delete(StepDay).where(col(StepDay.user_id) == user_id))
    await db.execute(delete(EnergyCap).where(col(EnergyCap.user_id) == user_id))
