"""Member tiers (普卡/金卡/白金/钻石) from the points earned in the rolling window, and the
partner tiers they match (``GET /v1/me/tiers``).

Tiers live with points because they are computed from the points lots (what counts for
tiers, per business day) by a pure rule (``games.rules.points.standing``): no table and
no job of their own, and the same answer however often or late it is asked — an upgrade
shows at once, a downgrade only once the grace period has passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.audiences.attributes import Test
from app.runtime import Runtime
from games.points import exchange
from games.points import service as points
from games.points.models import PointsLot
from games.points.schemas import PartnerTierPublic, TierPublic, TiersPublic
from games.rules import TierRule, rules
from games.rules import points as points_rules


def tier_public(t: TierRule) -> TierPublic:
    return TierPublic(
        id=t.id,
        name=t.name,
        min_points=t.min_points,
        earn_multiplier=t.earn_multiplier,
        monthly_rights=list(t.monthly_rights),
    )


async def tier_of(db: AsyncSession, rt: Runtime, *, user_id: str) -> TierRule:
    """The tier a member holds today (for other features: rights by tier)."""
    r = rules().points
    history = await points.earned_by_day(db, rt, user_ids=[user_id], since=points.history_start(r, rt))
    return points_rules.standing(r, history.get(user_id, {}), rt.clock.today()).tier


async def my_tiers(db: AsyncSession, rt: Runtime, *, user_id: str) -> TiersPublic:
    """My tier, how far to the next, when a downgrade would happen, and the partner tiers
    my tier matches."""
    r = rules().points
    history = await points.earned_by_day(db, rt, user_ids=[user_id], since=points.history_start(r, rt))
    s = points_rules.standing(r, history.get(user_id, {}), rt.clock.today())
    mine = await exchange.memberships(db, user_id=user_id)
    return TiersPublic(
        tier=tier_public(s.tier),
        rolling_points=s.rolling_points,
        window_months=r.tier_window_months,
        next_tier=tier_public(s.next_tier) if s.next_tier else None,
        points_to_next=s.points_to_next,
        downgrade_on=s.downgrade_on,
        grace_days=r.tier_grace_days,
        partners=[
            PartnerTierPublic(
                programme_id=p.id, name=p.name, tier=p.tier_match.get(s.tier.id), member_no=mine.get(p.id)
            )
            for p in r.partners
        ],
        tiers=[tier_public(t) for t in r.tiers],
    )


# -- audiences: "tier at least X" as one SQL condition (app.audiences.attributes) ----------


def tier_ids() -> tuple[str, ...]:
    return tuple(t.id for t in rules().points.tiers)


def tier_condition(rt: Runtime, members: Any, test: Test, among: Sequence[str] | None) -> ColumnElement[bool]:
    """Members whose tier (as ``standing`` computes it, grace included) is one of the
    values (``in``) or at least the value (``at_least``): the same rule in SQL. A tier is
    held when the rolling total reached its threshold on one of the last grace days, so
    "at least T" is: some day d of today−grace … today has Σ ``tier_points`` of the lots
    (counting for tiers) earned in (months_before(d, window), d] ≥ T.min_points."""
    r = rules().points
    by_id = {t.id: t for t in r.tiers}
    wanted = [by_id[str(v)] for v in test.values if str(v) in by_id]
    if not wanted:
        return false()

    def at_least(t: TierRule) -> ColumnElement[bool]:
        if t.min_points <= 0:
            return true()
        today = rt.clock.today()
        day = func.date(func.timezone(rt.settings.timezone, PointsLot.earned_at))
        sums = []
        for k in range(r.tier_grace_days + 1):
            d = today - timedelta(days=k)
            start = points_rules.months_before(d, r.tier_window_months)
            sums.append(
                func.sum(case((and_(day > start, day <= d), points.tier_points()), else_=0)) >= t.min_points
            )
        qualified = (
            select(PointsLot.user_id)
            .where(PointsLot.counts_for_tier, PointsLot.earned_at >= points.history_start(r, rt))  # type: ignore[arg-type]
            .where(true() if among is None else PointsLot.user_id.in_(list(among)))  # type: ignore[attr-defined]
            .group_by(PointsLot.user_id)
            .having(or_(*sums))
        )
        return members.id.in_(qualified)  # type: ignore[no-any-return]

    if test.op == "at_least":
        return at_least(wanted[0])
    higher = {t.id: [u for u in r.tiers if u.min_points > t.min_points] for t in wanted}
    return or_(*(and_(at_least(t), *(~at_least(h[0]) for h in [higher[t.id]] if h)) for t in wanted))
