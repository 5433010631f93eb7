"""The pure rules: table-driven cases and properties (hypothesis), no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from games.rules import DEFAULT_FILE, energy, farm, forest, load, rules

R = rules()
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def test_the_default_rules_hold_every_number_of_the_api_table():
    e, f, fm = R.energy, R.forest, R.farm
    assert (e.steps.steps_per_gram, e.steps.max_g_per_day) == (50, 296)
    cats = e.categories
    assert (
        cats["offline_payment"].grams,
        cats["offline_payment"].cap,
        cats["offline_payment"].min_amount_fen,
    ) == (5, 10, 100)
    assert (cats["bill_payment"].grams, cats["bill_payment"].cap, cats["bill_payment"].cap_period) == (
        262,
        10,
        "month",
    )
    assert (cats["transit"].grams, cats["transit"].cap, cats["transit"].cap_period) == (52, 5, "day")
    assert (cats["e_ticket"].grams, cats["e_ticket"].cap, cats["e_ticket"].cap_period) == (136, 10, "month")
    assert (e.ripen_after_h, e.expire_after_ripe_h) == (24, 72)
    assert (f.friends_share_pct, f.protection_h, f.watering_grams, f.watering_per_friend_per_day) == (
        50,
        24,
        [10, 18, 33, 66],
        3,
    )
    costs = {s.id: s.cost_g for s in f.species}
    assert (
        len(costs) >= 6
        and costs["saxaul"] == 17900
        and costs["red_willow"] == 22400
        and costs["camphor"] == 146210
    )
    assert (fm.meal_g, fm.meal_duration_h, fm.grams_per_egg, fm.quiz_reward_g) == (180, 4, 180, 90)
    assert fm.projects


def test_a_broken_rules_file_is_refused(tmp_path: Path):
    text = DEFAULT_FILE.read_text().replace("friends_share_pct = 50", "friends_share_pct = 150")
    bad = tmp_path / "rules.toml"
    bad.write_text(text)
    with pytest.raises(ValidationError):
        load(bad)
    bad.write_text(DEFAULT_FILE.read_text() + "\nsurprise = 1\n")
    with pytest.raises(ValidationError):
        load(bad)


@pytest.mark.parametrize(
    ("category", "amount", "grams"),
    [
        ("offline_payment", 100, 5),
        ("offline_payment", 99, 0),
        ("bill_payment", 1, 262),
        ("transit", 200, 52),
        ("e_ticket", 5000, 136),
        ("online_payment", 1000, 0),
        ("crypto", 1000, 0),
    ],
)
def test_spending_grams(category, amount, grams):
    assert energy.spending_grams(R.energy.categories.get(category), amount) == grams


@pytest.mark.parametrize(
    ("steps", "grams"), [(0, 0), (49, 0), (50, 1), (5000, 100), (14_800, 296), (100_000, 296)]
)
def test_steps_grams(steps, grams):
    assert energy.steps_grams(R.energy.steps, steps) == grams


@given(cap=st.integers(0, 20), used=st.integers(0, 20), wanted=st.integers(0, 50))
def test_caps_never_grant_past_the_cap(cap, used, wanted):
    granted = energy.grant_within_cap(cap, used, wanted)
    assert 0 <= granted <= wanted
    assert used + granted <= max(cap, used)


def test_cap_periods_are_in_the_bank_zone():
    rule = R.energy.categories["transit"]
    late = datetime(2026, 11, 25, 16, 30, tzinfo=UTC)  # 00:30 on the 26th in Shanghai
    assert energy.cap_period_key(rule, late, TZ) == "2026-11-26"
    assert energy.cap_period_key(R.energy.categories["bill_payment"], late, TZ) == "2026-11"


@given(offset=st.integers(0, 200 * 3600))
def test_a_ball_ripens_after_24h_and_expires_72h_later(offset):
    ripe_at, expires_at = energy.ball_life(R.energy, T0)
    now = T0 + timedelta(seconds=offset)
    state = energy.ball_state(ripe_at, expires_at, 10, now)
    expected = "growing" if offset < 24 * 3600 else "ripe" if offset < 96 * 3600 else "expired"
    assert state == expected
    assert energy.ball_state(ripe_at, expires_at, 0, now) == "empty"


def test_a_day_of_steps_ripens_when_reports_for_it_stop():
    action = energy.steps_action_at(date(2026, 11, 25), TZ)
    ripe_at, _ = energy.ball_life(R.energy, action)
    assert ripe_at.astimezone(TZ) == datetime(2026, 11, 27, 0, 0, tzinfo=TZ)


@given(
    amount=st.integers(1, 10_000),
    share=st.integers(0, 100),
    take=st.integers(1, 100),
    friends=st.integers(0, 60),
)
def test_friends_never_take_more_than_their_share(amount, share, take, friends):
    remaining, taken_by_friends = amount, 0
    for _ in range(friends):
        t = forest.friend_take(
            amount_g=amount,
            remaining_g=remaining,
            friends_taken_g=taken_by_friends,
            share_pct=share,
            take_pct=take,
        )
        assert t >= 0
        remaining -= t
        taken_by_friends += t
    assert taken_by_friends <= forest.friends_cap(amount, share)
    owner = forest.owner_take(remaining)
    assert owner + taken_by_friends == amount


@given(energy_g=st.integers(0, 300_000), cost=st.integers(1, 300_000), stages=st.integers(1, 8))
def test_tree_stage_is_monotone_and_bounded(energy_g, cost, stages):
    s = forest.tree_stage(energy_g, cost, stages)
    assert 0 <= s < stages
    assert forest.tree_stage(energy_g + 1000, cost, stages) >= s
    if energy_g >= cost:
        assert s == stages - 1


MEAL = dict(rate_g=180, duration_s=4 * 3600)


@pytest.mark.parametrize(
    ("hours", "visitor", "owner_g", "visitor_g", "left_g", "eating"),
    [
        (0, None, 0, 0, 180, True),
        (2, None, 90, 0, 90, True),
        (4, None, 180, 0, 0, False),
        (9, None, 180, 0, 0, False),
        (2, (1, 2), 90, 45, 45, True),
        (3, (1, 2), 135, 45, 0, False),
        (3, (0, 9), 90, 90, 0, False),
        (1, (-5, -4), 45, 0, 135, True),
    ],
)
def test_bowl_timeline_table(hours, visitor, owner_g, visitor_g, left_g, eating):
    vf = vu = None
    if visitor:
        vf, vu = T0 + timedelta(hours=visitor[0]), T0 + timedelta(hours=visitor[1])
    s = farm.bowl_state(
        meal_at=T0, bowl_g=180, visitor_from=vf, visitor_until=vu, now=T0 + timedelta(hours=hours), **MEAL
    )
    assert (s.owner_eaten_g, s.visitor_eaten_g, s.left_g, s.eating) == (owner_g, visitor_g, left_g, eating)


@given(
    bowl=st.integers(0, 1000),
    t=st.integers(0, 20 * 3600),
    dt=st.integers(0, 3600),
    a=st.integers(-3600, 10 * 3600),
    span=st.integers(0, 5 * 3600),
    visitor=st.booleans(),
)
def test_bowl_timeline_conserves_food_and_only_moves_forward(bowl, t, dt, a, span, visitor):
    vf = T0 + timedelta(seconds=a) if visitor else None
    vu = T0 + timedelta(seconds=a + span) if visitor else None
    s1 = farm.bowl_state(
        meal_at=T0, bowl_g=bowl, visitor_from=vf, visitor_until=vu, now=T0 + timedelta(seconds=t), **MEAL
    )
    s2 = farm.bowl_state(
        meal_at=T0, bowl_g=bowl, visitor_from=vf, visitor_until=vu, now=T0 + timedelta(seconds=t + dt), **MEAL
    )
    for s in (s1, s2):
        assert s.owner_eaten_g + s.visitor_eaten_g + s.left_g == bowl
        assert min(s.owner_eaten_g, s.visitor_eaten_g, s.left_g) >= 0
    assert s2.owner_eaten_g >= s1.owner_eaten_g and s2.visitor_eaten_g >= s1.visitor_eaten_g
    alone = farm.bowl_state(
        meal_at=T0, bowl_g=bowl, visitor_from=None, visitor_until=None, now=T0 + timedelta(seconds=t), **MEAL
    )
    assert alone.owner_eaten_g >= s1.owner_eaten_g  # a visitor never makes the owner eat more
    assert alone.owner_eaten_g == min(bowl, t * 180 // (4 * 3600))


@given(progress=st.integers(0, 10_000))
def test_eggs_from_grams(progress):
    eggs, rest = farm.eggs_from(progress, 180)
    assert eggs * 180 + rest == progress and 0 <= rest < 180
