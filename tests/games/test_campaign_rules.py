"""The pure campaign rules: discounts, windows, ranking, and refunds' pro-rata shares."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from games.campaigns.rules import DiscountKind, Payment, Rule, discount, in_windows, ranked_offers
from games.campaigns.service import reversed_share

NOW = datetime(2026, 11, 27, 11, 30, tzinfo=UTC)


@given(
    amount=st.integers(1, 10**8),
    rate=st.integers(1, 10_000),
    cap=st.integers(1, 10**6),
    lo=st.integers(1, 10**4),
    span=st.integers(0, 10**4),
    seed=st.integers(0, 2**32),
)
def test_a_discount_stays_within_its_rule_and_the_amount(amount, rate, cap, lo, span, seed):
    rng = random.Random(seed)
    percent = Rule(id="p", name="p", kind=DiscountKind.PERCENT, min_amount_fen=0, rate_bp=rate, cap_fen=cap)
    assert 0 <= discount(percent, amount, rng) <= min(cap, amount * rate // 10_000)
    rnd = Rule(
        id="r",
        name="r",
        kind=DiscountKind.RANDOM,
        min_amount_fen=0,
        min_discount_fen=lo,
        max_discount_fen=lo + span,
    )
    d = discount(rnd, amount, rng)
    assert d == amount if amount < lo else lo <= d <= min(lo + span, amount)


@given(
    discount_fen=st.integers(0, 10**6),
    amount=st.integers(1, 10**8),
    parts=st.lists(st.integers(1, 100), max_size=8),
)
def test_partial_refunds_take_back_the_whole_discount_and_never_more(discount_fen, amount, parts):
    discount_fen = min(discount_fen, amount)
    weights = sum(parts) or 1
    refunded, taken = 0, 0
    cuts = [amount * p // weights for p in parts] + [amount]
    for cut in cuts:
        refunded = max(refunded, min(cut, amount))
        share = reversed_share(discount_fen, amount, refunded)
        assert share >= taken
        taken = share
    assert taken == discount_fen


def test_time_windows_may_cross_midnight():
    assert in_windows([], 0)
    assert in_windows([(22 * 60, 2 * 60)], 23 * 60) and in_windows([(22 * 60, 2 * 60)], 60)
    assert not in_windows([(22 * 60, 2 * 60)], 12 * 60)
    assert in_windows([(11 * 60, 12 * 60)], 11 * 60) and not in_windows([(11 * 60, 12 * 60)], 12 * 60)


def test_the_biggest_discount_ranks_first_and_ties_go_to_the_campaign_ending_first():
    def rule(rid: str, off: int, ends: int) -> Rule:
        return Rule(
            id=rid,
            name=rid,
            kind=DiscountKind.THRESHOLD,
            min_amount_fen=100,
            discount_fen=off,
            ends_at=datetime(2026, 12, ends, tzinfo=UTC),
        )

    pay = Payment(amount_fen=1_000, mcc="5411", merchant_id="m", channel="pos", card_product=None)
    offers = ranked_offers(
        [rule("a", 10, 20), rule("b", 50, 20), rule("c", 50, 10)], pay, NOW, random.Random(1)
    )
    assert [o.rule.id for o in offers] == ["c", "b", "a"]
