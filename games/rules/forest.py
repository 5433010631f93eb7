"""Pure forest rules: the friends' share of a ball, one friend's take, the growing tree's stage.

The database applies the same arithmetic in a conditional UPDATE (see
``games.forest.service``); these functions are its specification and are property-tested.
"""

from __future__ import annotations


def friends_cap(amount_g: int, share_pct: int) -> int:
    """The most friends together may take from a ball of ``amount_g``."""
    return amount_g * share_pct // 100


def friend_take(
    *, amount_g: int, remaining_g: int, friends_taken_g: int, share_pct: int, take_pct: int
) -> int:
    """What the next friend takes: their per-friend share (≥ 1 g), within the friends' cap and what is left."""
    per_friend = max(1, amount_g * take_pct // 100)
    cap_left = friends_cap(amount_g, share_pct) - friends_taken_g
    return max(0, min(per_friend, cap_left, remaining_g))


def owner_take(remaining_g: int) -> int:
    """The owner collects whatever is left."""
    return max(0, remaining_g)


def tree_stage(energy_g: int, cost_g: int, stages: int) -> int:
    """The growing tree's stage (0 … stages-1) by energy held toward a tree costing ``cost_g``."""
    if stages <= 1 or cost_g <= 0:
        return 0
    if energy_g >= cost_g:
        return stages - 1
    return min(stages - 1, max(0, energy_g) * (stages - 1) // cost_g)
