"""The red-packet split rules, table-driven and property-based (no database)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from social.red_packets.split import luckiest_index, split, split_equal, split_random

MAX_FEN = 20_000
MAX_COUNT = 100


@st.composite
def totals_and_counts(draw: st.DrawFn) -> tuple[int, int]:
    count = draw(st.integers(1, MAX_COUNT))
    total = draw(st.integers(count, MAX_FEN))
    return total, count


@settings(max_examples=300, deadline=None)
@given(totals_and_counts(), st.integers(0, 2**32))
def test_random_split_sums_exactly_and_respects_the_double_mean(tc, seed):
    total, count = tc
    shares = split_random(total, count, random.Random(seed))
    assert len(shares) == count
    assert sum(shares) == total
    assert all(isinstance(s, int) and s >= 1 for s in shares)
    remaining, left = total, count
    for s in shares:
        assert s * left <= 2 * remaining  # ≤ twice the mean of what was left
        remaining -= s
        left -= 1


@settings(max_examples=200, deadline=None)
@given(totals_and_counts())
def test_equal_split_differs_by_at_most_one_fen(tc):
    total, count = tc
    shares = split_equal(total, count)
    assert len(shares) == count
    assert sum(shares) == total
    assert max(shares) - min(shares) <= 1
    assert min(shares) >= 1


@pytest.mark.parametrize(
    ("total", "count", "expected"),
    [(100, 1, [100]), (100, 3, [34, 33, 33]), (5, 5, [1, 1, 1, 1, 1]), (7, 2, [4, 3])],
)
def test_equal_split_table(total, count, expected):
    assert split_equal(total, count) == expected


def test_one_fen_each_when_total_equals_count():
    assert split_random(100, 100, random.Random(1)) == [1] * 100


def test_exclusive_is_one_share_of_everything():
    assert split("exclusive", 888, 1, random.Random(0)) == [888]
    with pytest.raises(ValueError):
        split("exclusive", 888, 2, random.Random(0))


@pytest.mark.parametrize(("total", "count"), [(0, 1), (9, 10), (10, 0)])
def test_impossible_splits_are_refused(total, count):
    for mode in ("random", "equal"):
        with pytest.raises(ValueError):
            split(mode, total, count, random.Random(0))


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError):
        split("lottery", 10, 1, random.Random(0))


def test_luckiest_is_the_largest_and_earliest_on_ties():
    assert luckiest_index([3, 9, 1, 9]) == 1
    assert luckiest_index([5]) == 0
