"""Pure farm timeline: what is in the bowl, who ate how much, at any instant.

Nothing ticks: a farm stores when the meal went into the bowl and when a visiting chicken
arrived and left (chased, or its window ran out), and this module computes the state at
``now``. Every chicken eats at the same rate, ``meal_g`` per ``meal_duration``; while a
visitor is at the bowl the food goes twice as fast and is shared equally.

Arithmetic is exact: food is counted in gram·(duration seconds) units, so what the
owner ate + what the visitor ate + what is left is always the bowl's grams.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class BowlState:
    owner_eaten_g: int
    visitor_eaten_g: int
    left_g: int
    empty_at: datetime | None  # when the bowl runs (ran) out, if the visitor keeps to its window
    eating: bool


def _secs(a: datetime, b: datetime) -> int:
    return int((b - a).total_seconds())


def _eat(food: int, rate: int, a: int, b: int, until: int | None) -> tuple[int, int, int, int | None]:
    """Eat ``food`` units from second 0 to ``until`` (None: until empty); a visitor in [a, b).

    Returns (owner units, visitor units, units left, second the bowl ran out or None)."""
    owner = visitor = 0
    for start, end, eaters in ((0, a, 1), (a, b, 2), (b, None, 1)):
        stop = end if until is None else (until if end is None else min(end, until))
        if stop is not None and stop <= start:
            continue
        per_s = rate * eaters
        need_s = -(-food // per_s)  # seconds until empty at this pace
        if stop is None or need_s <= stop - start:
            eaten, empty_s = food, start + need_s
        else:
            eaten, empty_s = per_s * (stop - start), None
        if eaters == 2:
            owner += eaten - eaten // 2
            visitor += eaten // 2
        else:
            owner += eaten
        food -= eaten
        if empty_s is not None:
            return owner, visitor, food, empty_s
    return owner, visitor, food, None


def bowl_state(
    *,
    meal_at: datetime | None,
    bowl_g: int,
    rate_g: int,
    duration_s: int,
    visitor_from: datetime | None,
    visitor_until: datetime | None,
    now: datetime,
) -> BowlState:
    """The bowl at ``now``: a meal of ``bowl_g`` put in at ``meal_at``; each chicken eats
    ``rate_g`` grams per ``duration_s`` seconds; a visitor eats along in [from, until)."""
    if meal_at is None or bowl_g <= 0:
        return BowlState(0, 0, max(bowl_g, 0), None, False)
    t_now = max(0, _secs(meal_at, now))
    if visitor_from is not None and visitor_until is not None:
        a = max(0, _secs(meal_at, visitor_from))
        b = max(a, _secs(meal_at, visitor_until))
    else:
        a = b = 0
    owner, visitor, _, _ = _eat(bowl_g * duration_s, rate_g, a, b, t_now)
    _, _, _, empty_s = _eat(bowl_g * duration_s, rate_g, a, b, None)
    owner_g = owner // duration_s
    visitor_g = visitor // duration_s
    empty_at = meal_at + timedelta(seconds=empty_s) if empty_s is not None else None
    return BowlState(
        owner_eaten_g=owner_g,
        visitor_eaten_g=visitor_g,
        left_g=bowl_g - owner_g - visitor_g,
        empty_at=empty_at,
        eating=empty_at is not None and now < empty_at,
    )


def eggs_from(progress_g: int, grams_per_egg: int) -> tuple[int, int]:
    """(eggs laid, grams carried toward the next egg) from grams eaten."""
    return divmod(max(0, progress_g), grams_per_egg)
