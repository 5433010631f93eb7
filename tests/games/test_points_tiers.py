"""Tiers from the rolling 12 months of points earned: up at once, down only after the
grace period; the partners' tiers mine matches."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from games.rules import points as points_rules
from games.rules import rules
from tests.games.helpers import event, spend

DAY = 24 * 3600


async def tiers(client, person) -> dict:
    r = await client.get("/v1/me/tiers", headers=person.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_tier_up_at_once_down_only_after_the_grace(client, rt, users):
    li = await users.make("li")
    await client.put("/v1/me/partners/hotel", json={"member_no": "HW-1"}, headers=li.headers)
    t = await tiers(client, li)
    assert t["tier"]["id"] == "standard" and t["points_to_next"] == 5000 and t["downgrade_on"] is None
    # ¥200 000 of card spending: 20 000 points → 白金 Platinum at once
    await spend(client, rt, [event(li.id, "offline_payment", 20_000_000, at=rt.clock.now())])
    t = await tiers(client, li)
    assert t["tier"]["id"] == "platinum" and t["rolling_points"] == 20_000
    assert t["tier"]["earn_multiplier"] == 1.5 and "video_membership" in t["tier"]["monthly_rights"]
    hotel = next(p for p in t["partners"] if p["programme_id"] == "hotel")
    assert hotel == {"programme_id": "hotel", "name": hotel["name"], "tier": "Gold", "member_no": "HW-1"}
    # a platinum member earns × 1.5
    await spend(client, rt, [event(li.id, "offline_payment", 100_000, at=rt.clock.now())])
    assert (await client.get("/v1/me/points", headers=li.headers)).json()["balance"] == 20_000 + 150
    # 12 months later nothing is left in the window, but the tier holds for the grace
    await rt.advance_clock(366 * DAY)
    t = await tiers(client, li)
    assert t["rolling_points"] == 0 and t["tier"]["id"] == "platinum"
    assert t["downgrade_on"] is not None
    down = date.fromisoformat(t["downgrade_on"])
    today = rt.clock.today()
    await rt.advance_clock((down - today).days * DAY - DAY)  # the day before
    assert (await tiers(client, li))["tier"]["id"] == "platinum"
    await rt.advance_clock(DAY)
    t = await tiers(client, li)
    assert t["tier"]["id"] == "standard" and t["downgrade_on"] is None
    assert next(p for p in t["partners"] if p["programme_id"] == "hotel")["tier"] is None


def test_standing_is_the_best_tier_of_the_grace_window():
    r = rules().points
    today = date(2027, 6, 1)
    earned = {today - timedelta(days=400): 60_000, today - timedelta(days=10): 6_000}
    s = points_rules.standing(r, earned, today)
    # 60 000 fell out of the window 35 days ago (< 90 days of grace): still diamond
    assert s.tier.id == "diamond" and s.qualified.id == "gold" and s.rolling_points == 6_000
    # the last day it reached diamond (the day before the 60 000 left the window), + 90 days
    assert s.downgrade_on == date(2027, 4, 26) + timedelta(days=90 + 1)


@given(
    days=st.dictionaries(st.integers(0, 900), st.integers(1, 30_000), max_size=30),
    offset=st.integers(0, 900),
)
def test_standing_never_below_what_today_qualifies_for(days, offset):
    r = rules().points
    today = date(2028, 1, 1)
    earned = {today - timedelta(days=d): n for d, n in days.items()}
    s = points_rules.standing(r, earned, today)
    assert s.tier.min_points >= s.qualified.min_points
    assert s.qualified == points_rules.tier_for(r, points_rules.rolling_earned(r, earned, today))
    assert (s.downgrade_on is None) == (s.tier == s.qualified)
    if s.downgrade_on is not None:
        assert today < s.downgrade_on <= today + timedelta(days=r.tier_grace_days)
