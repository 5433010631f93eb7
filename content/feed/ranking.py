"""Hot ranking: a time-decayed score over likes, comments and recency.

A post's points are ``P = 1 + likes + 2·comments`` (answers are comments), multiplied by
``pgc_boost`` for PGC. Its hotness at time ``now`` decays exponentially with age:

    hot(now) = P · 2^(−age / H)            H = half-life (default 12 h)

Every post decays at the same rate, so the ORDER of posts by ``hot(now)`` does not depend
on ``now``: ``log2 hot(now) = log2 P + created/H − now/H``, and the last term is the same
for all. We therefore store the time-invariant key

    hot_key = log2(P) + created_epoch_s / H_s

on the row (recomputed when likes or comments change) and rank by it with an index:
the same order as Hacker-News-style gravity, but indexable, and a cursor over
``(hot_key, id)`` stays valid as time passes. A post twice as liked is as hot as one
``H`` younger.
"""

from __future__ import annotations

import math
from datetime import datetime


def points(*, likes: int, comments: int, pgc: bool, pgc_boost: float) -> float:
    base = 1.0 + max(0, likes) + 2.0 * max(0, comments)
    return base * (pgc_boost if pgc else 1.0)


def hot_key(
    *, likes: int, comments: int, created_at: datetime, pgc: bool, pgc_boost: float, half_life_h: float
) -> float:
    """The stored, time-invariant ranking key (higher is hotter)."""
    p = points(likes=likes, comments=comments, pgc=pgc, pgc_boost=pgc_boost)
    return math.log2(p) + created_at.timestamp() / (half_life_h * 3600.0)


def hotness(
    *,
    likes: int,
    comments: int,
    created_at: datetime,
    now: datetime,
    pgc: bool,
    pgc_boost: float,
    half_life_h: float,
) -> float:
    """The decayed score at ``now`` (for display and tests): P · 2^(−age/H)."""
    age_h = max(0.0, (now - created_at).total_seconds() / 3600.0)
    p = points(likes=likes, comments=comments, pgc=pgc, pgc_boost=pgc_boost)
    return p * 2.0 ** (-age_h / half_life_h)
