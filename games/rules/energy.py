"""Pure energy rules: what a spending event or a day's steps is worth, and a ball's life."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from games.rules import CategoryRule, EnergyRules, StepsRule


def spending_grams(rule: CategoryRule | None, amount_fen: int) -> int:
    """Grams one event earns before caps: 0 for an unknown category or a too-small amount."""
    if rule is None or amount_fen < rule.min_amount_fen:
        return 0
    return rule.grams


def cap_period_key(rule: CategoryRule, occurred_at: datetime, tz: ZoneInfo) -> str:
    """The cap bucket of an event in the bank's zone: ``2026-11-25`` (day) or ``2026-11`` (month)."""
    local = occurred_at.astimezone(tz)
    return local.date().isoformat() if rule.cap_period == "day" else f"{local.year:04d}-{local.month:02d}"


def grant_within_cap(cap: int, used: int, wanted: int) -> int:
    """How many of ``wanted`` new events still earn energy when ``used`` already did."""
    return max(0, min(wanted, cap - used))


def steps_grams(rule: StepsRule, steps: int) -> int:
    """The day's walking energy from its running total of steps, capped."""
    return min(max(steps, 0) // rule.steps_per_gram, rule.max_g_per_day)


def steps_action_at(day: date, tz: ZoneInfo) -> datetime:
    """A day's walking is complete at the end of that day (local midnight after it).

    Reports for a day are accepted until the end of the next day, which is exactly when
    the ball ripens (24 h later), so a steps ball only grows before anyone can collect it.
    """
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


def ball_life(
    rules: EnergyRules, action_at: datetime, *, ripen_after_h: float | None = None
) -> tuple[datetime, datetime]:
    """(ripe_at, expires_at) of a ball made by an action at ``action_at``."""
    ripen = rules.ripen_after_h if ripen_after_h is None else ripen_after_h
    ripe_at = action_at + timedelta(hours=ripen)
    return ripe_at, ripe_at + timedelta(hours=rules.expire_after_ripe_h)


def ball_state(ripe_at: datetime, expires_at: datetime, remaining_g: int, now: datetime) -> str:
    """``growing`` | ``ripe`` | ``expired`` | ``empty``."""
    if remaining_g <= 0:
        return "empty"
    if now >= expires_at:
        return "expired"
    if now >= ripe_at:
        return "ripe"
    return "growing"
