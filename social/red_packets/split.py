"""How a red packet's total is cut into shares (pure: integers in, integers out).

Shares are computed once, when the packet is created, and stored with it; the n-th
grab takes share n. Precomputing keeps the grab a plain conditional update (no
randomness under the row lock) and makes the split testable on its own.

- ``random``: WeChat's double-mean rule. Each share is drawn uniformly from
  ``1 … ⌊2 × remaining / left⌋`` (never more than twice the mean of what is left),
  capped so that every later share can still get 1 fen; the last share takes the rest.
- ``equal``: ``total // count`` each; the ``total % count`` leftover fen go one each to
  the first shares, so shares differ by at most 1 fen.
- ``exclusive``: one share, the whole total, for one named member.
"""

from __future__ import annotations

import random

MODES = ("random", "equal", "exclusive")


def check(total_fen: int, count: int) -> None:
    if count < 1:
        raise ValueError("count must be at least 1")
    if total_fen < count:
        raise ValueError("every share needs at least 1 fen")


def split_random(total_fen: int, count: int, rng: random.Random) -> list[int]:
    """Double-mean split: every share ≥ 1 fen and ≤ twice the remaining mean; sums to total_fen."""
    check(total_fen, count)
    shares: list[int] = []
    remaining, left = total_fen, count
    while left > 1:
        # ≤ 2 × mean of what is left; and leave ≥ 1 fen for each of the others.
        high = min((2 * remaining) // left, remaining - (left - 1))
        share = rng.randint(1, high)
        shares.append(share)
        remaining -= share
        left -= 1
    shares.append(remaining)
    return shares


def split_equal(total_fen: int, count: int) -> list[int]:
    """Equal shares; the leftover fen go one each to the first shares."""
    check(total_fen, count)
    base, extra = divmod(total_fen, count)
    return [base + 1 if i < extra else base for i in range(count)]


def split(mode: str, total_fen: int, count: int, rng: random.Random) -> list[int]:
    """The shares of a packet in grab order. Raises ValueError on an impossible split."""
    if mode == "random":
        return split_random(total_fen, count, rng)
    if mode == "equal":
        return split_equal(total_fen, count)
    if mode == "exclusive":
        if count != 1:
            raise ValueError("an exclusive packet has exactly one share")
        check(total_fen, count)
        return [total_fen]
    raise ValueError(f"unknown mode {mode!r}")


def luckiest_index(shares: list[int]) -> int:
    """The index of the largest share (the earliest one on a tie)."""
    return max(range(len(shares)), key=lambda i: (shares[i], -i))
