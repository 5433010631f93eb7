"""Tag weights decay exponentially: w(t) = w(t₀) · 2^(−(t − t₀) / half-life). Pure."""

from __future__ import annotations

from datetime import datetime


def decayed(weight: float, *, since: datetime, now: datetime, half_life_s: float) -> float:
    """``weight`` as of ``since``, decayed to ``now`` (no growth when ``now`` < ``since``)."""
    age = max(0.0, (now - since).total_seconds())
    return weight * 0.5 ** (age / half_life_s)
