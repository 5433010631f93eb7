"""Pure points rules: what spending earns, when a lot expires, which tier a member holds.

No database and no clock of their own: callers pass ``now``, the bank's zone and the
member's earning history, so tests drive them with tables and hypothesis.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from games.rules import PointsRules, TierRule


def _exact(x: float) -> Fraction:
    return Fraction(str(x))


def spending_points(rules: PointsRules, category: str, amount_fen: int, tier_multiplier: float = 1.0) -> int:
    """Points one card payment earns: 1 per ``fen_per_point`` (rounded down), times the
    category's multiplier (default 1, ``bill_payment`` 0) and the tier's, rounded down."""
    if amount_fen <= 0:
        return 0
    base = amount_fen // rules.fen_per_point
    mult = _exact(rules.category_multipliers.get(category, 1.0)) * _exact(tier_multiplier)
    return int(base * mult)  # int() of a non-negative Fraction rounds down


def lot_expiry(rules: PointsRules, earned_at: datetime, tz: ZoneInfo) -> datetime:
    """When a lot earned at ``earned_at`` lapses: the end of the calendar year
    ``expiry_years_after`` years after the year earned, in the bank's zone (the first
    instant of the year after, as an aware datetime)."""
    year = earned_at.astimezone(tz).year + rules.expiry_years_after + 1
    return datetime.combine(date(year, 1, 1), time(0), tzinfo=tz)


def last_valid_day(expires_at: datetime, tz: ZoneInfo) -> date:
    """The last business day on which a lot that lapses at ``expires_at`` can be spent."""
    return (expires_at.astimezone(tz) - timedelta(microseconds=1)).date()


def months_before(day: date, months: int) -> date:
    """``day`` ``months`` calendar months earlier (the 31st → the month's last day)."""
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    m += 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(y, m, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def tier_for(rules: PointsRules, earned: int) -> TierRule:
    """The highest tier whose threshold ``earned`` reaches."""
    found = rules.tiers[0]
    for t in rules.tiers:
        if earned >= t.min_points:
            found = t
    return found


def rolling_earned(rules: PointsRules, by_day: dict[date, int], on: date) -> int:
    """Points earned in the window that ends on ``on``: (``on`` − 12 months, ``on``]."""
    start = months_before(on, rules.tier_window_months)
    return sum(n for d, n in by_day.items() if start < d <= on)


@dataclass(frozen=True)
class TierStanding:
    tier: TierRule  # the tier held now
    qualified: TierRule  # the tier today's rolling total alone reaches
    rolling_points: int  # earned in the window ending today
    next_tier: TierRule | None
    points_to_next: int | None
    downgrade_on: date | None  # held above ``qualified``: the day it falls, unless earned back


def standing(rules: PointsRules, by_day: dict[date, int], today: date) -> TierStanding:
    """A member's tier from points earned per business day (``by_day``).

    The tier is the highest reached by the rolling total on any day of the last
    ``tier_grace_days`` (today included): an upgrade is at once, a downgrade only after
    the member has stayed below the tier for the whole grace period. No state is kept, so
    the answer is the same whenever and however often it is asked."""
    grace = rules.tier_grace_days
    days = sorted(by_day)
    prefix = [0]
    for d in days:
        prefix.append(prefix[-1] + by_day[d])

    def rolling(on: date) -> int:  # rolling_earned by prefix sums
        start = months_before(on, rules.tier_window_months)
        return prefix[bisect_right(days, on)] - prefix[bisect_right(days, start)]

    rolling_now = rolling(today)
    qualified = tier_for(rules, rolling_now)
    held, last_held = qualified, today
    for k in range(1, grace + 1):
        d = today - timedelta(days=k)
        t = tier_for(rules, rolling(d))
        if t.min_points > held.min_points:
            held, last_held = t, d
    downgrade_on = last_held + timedelta(days=grace + 1) if held != qualified else None
    higher = [t for t in rules.tiers if t.min_points > held.min_points]
    nxt = higher[0] if higher else None
    return TierStanding(
        tier=held,
        qualified=qualified,
        rolling_points=rolling_now,
        next_tier=nxt,
        points_to_next=max(0, nxt.min_points - rolling_now) if nxt else None,
        downgrade_on=downgrade_on,
    )


def by_local_day(rows: Iterable[tuple[datetime, int]], tz: ZoneInfo) -> dict[date, int]:
    """Sum (earned_at, points) rows per business day in the bank's zone."""
    out: dict[date, int] = {}
    for at, n in rows:
        d = at.astimezone(tz).date()
        out[d] = out.get(d, 0) + n
    return out
