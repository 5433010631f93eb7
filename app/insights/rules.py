"""The pure rules of "users like you": bands, the neighbour order that merges small
cohorts, the discrete Laplace mechanism (exact, integer-only sampling) and quartiles read
from a noisy histogram.

Nothing here touches the database; the nightly job (``app.insights.service``) counts
members per cell and per histogram bucket in SQL and hands the counts to these functions.
"""

from __future__ import annotations

import math
import random
import tomllib
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path

RULES_FILE = Path(__file__).with_name("rules.toml")
NOTICE_ZH = (
    "过往业绩不预示未来表现。以上为同类用户的统计数据（已加入隐私保护噪声），不构成投资建议或收益承诺。"
)
NOTICE_EN = (
    "Past returns do not predict future returns. These are statistics of members like you "
    "(with privacy noise added), not investment advice or a promise of returns."
)
# |noise| ≤ b·ln(2/δ) with probability 1 − δ (discrete Laplace): the documented bound.
NOISE_BOUND_DELTA = 1e-6


@dataclass(frozen=True)
class AssetClass:
    name: str
    return_1y_pct: float
    return_3y_pct: float


@dataclass(frozen=True)
class Rules:
    version: str
    k: int
    window_days: int
    age_edges: tuple[int, ...]
    asset_edges_fen: tuple[int, ...]
    risk_levels: tuple[str, ...]
    eps_members: float
    eps_savings: float
    eps_spending: float
    eps_allocation: float
    savings_min: float
    savings_max: float
    savings_buckets: int
    categories: tuple[str, ...]
    spending_edges_fen: tuple[int, ...]
    allocation_buckets: int
    classes: tuple[AssetClass, ...]

    @property
    def epsilon_total(self) -> float:
        return self.eps_members + self.eps_savings + self.eps_spending + self.eps_allocation

    @property
    def cells(self) -> list[str]:
        """Every cell in the neighbour order (``snake_order``)."""
        return snake_order(len(self.age_edges) + 1, len(self.asset_edges_fen) + 1, self.risk_levels)


def parse(data: dict) -> Rules:  # type: ignore[type-arg]
    """Rules from a parsed TOML document. Raises ValueError when they do not hold together."""
    bands, privacy = data["bands"], data["privacy"]
    rules = Rules(
        version=str(data["version"]),
        k=int(data["k"]),
        window_days=int(data["window_days"]),
        age_edges=tuple(int(a) for a in bands["age"]),
        asset_edges_fen=tuple(int(a) * 100 for a in bands["assets_yuan"]),
        risk_levels=tuple(str(r) for r in bands["risk"]),
        eps_members=float(privacy["epsilon_members"]),
        eps_savings=float(privacy["epsilon_savings"]),
        eps_spending=float(privacy["epsilon_spending"]),
        eps_allocation=float(privacy["epsilon_allocation"]),
        savings_min=float(data["savings"]["min"]),
        savings_max=float(data["savings"]["max"]),
        savings_buckets=int(data["savings"]["buckets"]),
        categories=tuple(data["spending"]["categories"]),
        spending_edges_fen=tuple(int(e) * 100 for e in data["spending"]["edges_yuan"]),
        allocation_buckets=int(data["allocation"]["buckets"]),
        classes=tuple(
            AssetClass(name, float(c["return_1y_pct"]), float(c["return_3y_pct"]))
            for name, c in data["allocation"]["classes"].items()
        ),
    )
    for edges in (rules.age_edges, rules.asset_edges_fen, rules.spending_edges_fen):
        if list(edges) != sorted(set(edges)) or not edges:
            raise ValueError("band edges must be increasing")
    if (
        rules.k < 2
        or min(rules.eps_members, rules.eps_savings, rules.eps_spending, rules.eps_allocation) <= 0
    ):
        raise ValueError("k ≥ 2 and every ε > 0")
    if "other" not in rules.categories:
        raise ValueError('spending categories must include "other"')
    return rules


@cache
def load(path: Path | None = None) -> Rules:
    """The rules file (the one shipped here unless ``path``), validated."""
    with (path or RULES_FILE).open("rb") as f:
        return parse(tomllib.load(f))


def band(value: float, edges: Sequence[float]) -> int:
    """The band of ``value``: 0 below the first edge, i at or above edge i−1."""
    return bisect_right(edges, value)


def cell_key(age_band: int, asset_band: int, risk: str) -> str:
    return f"a{age_band}-w{asset_band}-{risk}"


def snake_order(n_age: int, n_asset: int, risks: Sequence[str]) -> list[str]:
    """Every cell, ordered so that consecutive cells are neighbours (differ by one step
    in one dimension): risk levels in order; within a risk level, age bands ascending on
    even risk levels and descending on odd ones; within an age band, asset bands
    alternating up and down (a boustrophedon through the grid)."""
    order = []
    step = 0
    for r, risk in enumerate(risks):
        ages = range(n_age) if r % 2 == 0 else range(n_age - 1, -1, -1)
        for a in ages:
            assets = range(n_asset) if step % 2 == 0 else range(n_asset - 1, -1, -1)
            order += [cell_key(a, w, risk) for w in assets]
            step += 1
    return order


def merge_cells(counts: dict[str, int], order: Sequence[str], k: int) -> list[list[str]]:
    """Cohorts of cells: walking ``order``, a run of cells is merged with the next
    until it holds ≥ k members; a tail still below k joins the cohort before it. Empty
    cells join the run they are in. Every cohort returned holds ≥ k members, unless all
    members together are fewer than k (then nothing is published: [])."""
    if sum(counts.values()) < k:
        return []
    cohorts: list[list[str]] = []
    run: list[str] = []
    size = 0
    for cell in order:
        run.append(cell)
        size += counts.get(cell, 0)
        if size >= k:
            cohorts.append(run)
            run, size = [], 0
    if run:
        cohorts[-1] += run
    return cohorts


def scale_of(epsilon: float, sensitivity: int = 1) -> Fraction:
    """The discrete Laplace scale b = Δ/ε of a release, as an exact fraction (ε as written
    in the rules file: 0.1 is 1/10, not the nearest double)."""
    return Fraction(sensitivity) / Fraction(repr(float(epsilon)))


def bernoulli_exp(gamma: Fraction, rng: random.Random) -> bool:
    """True with probability exp(−γ) for a rational γ ≥ 0, exactly (Canonne, Kamath &
    Steinke 2020, Algorithm 1): for γ ≤ 1, draw Bernoulli(γ/k) for k = 1, 2, … until one
    fails; the first failing k is odd with probability exp(−γ). A larger γ is split into
    whole units, each an independent exp(−1) trial."""
    return _bernoulli_exp(gamma.numerator, gamma.denominator, rng)


def _bernoulli_exp(num: int, den: int, rng: random.Random) -> bool:
    # γ = num/den; Bernoulli(γ/k) is "a uniform draw below den·k is below num".
    while num > den:
        if not _bernoulli_exp(1, 1, rng):
            return False
        num -= den
    k = 1
    while rng.randrange(den * k) < num:
        k += 1
    return k % 2 == 1


def discrete_laplace(scale: Fraction, rng: random.Random) -> int:
    """One draw of the discrete Laplace (two-sided geometric) distribution of scale
    b = ``scale``: P[Z = z] ∝ exp(−|z|/b) on the integers, sampled exactly with integer
    arithmetic (Canonne, Kamath & Steinke 2020, Algorithm 2). Added to a count of
    sensitivity Δ with b = Δ/ε it is ε-DP with no floating-point leak (Mironov 2012: the
    low bits of a float Laplace draw can give the true value away); every output is an
    integer and every probability an exact fraction. ``rng`` only supplies uniform
    integers (``randrange``); the job uses ``secrets.SystemRandom``."""
    t, s = scale.numerator, scale.denominator  # b = t/s
    while True:
        u = rng.randrange(t)
        if not _bernoulli_exp(u, t, rng):
            continue
        v = 0
        while _bernoulli_exp(1, 1, rng):
            v += 1
        y = (u + t * v) // s  # u + t·v is geometric with ratio exp(−1/t); ÷ s: ratio exp(−s/t)
        negative = rng.randrange(2) == 1
        if negative and y == 0:
            continue  # 0 would be counted twice
        return -y if negative else y


def noise_bound(scale: float | Fraction) -> float:
    """|noise| ≤ this with probability 1 − NOISE_BOUND_DELTA: for the discrete Laplace,
    P[|Z| ≥ n] = 2·exp(−n/b)/(1 + exp(−1/b)) < 2·exp(−n/b), so n = b·ln(2/δ)."""
    return float(scale) * math.log(2 / NOISE_BOUND_DELTA)


def noisy_counts(counts: Sequence[int], scale: Fraction, rng: random.Random) -> list[int]:
    """Each count plus discrete Laplace noise of scale ``scale`` (``scale_of(ε, Δ)``),
    clamped ≥ 0 (post-processing)."""
    return [max(0, c + discrete_laplace(scale, rng)) for c in counts]


def quantiles(counts: Sequence[float], edges: Sequence[float], qs: Sequence[float]) -> list[float] | None:
    """The quantiles ``qs`` of a histogram: bucket i spans [edges[i], edges[i+1]], read by
    linear interpolation inside the bucket. None when the histogram is empty."""
    total = sum(counts)
    if total <= 0:
        return None
    found = []
    for q in qs:
        target, seen = q * total, 0.0
        value = edges[-1]
        for i, c in enumerate(counts):
            if c > 0 and seen + c >= target:
                value = edges[i] + (edges[i + 1] - edges[i]) * (target - seen) / c
                break
            seen += c
        found.append(value)
    return found


def savings_edges(rules: Rules) -> list[float]:
    step = (rules.savings_max - rules.savings_min) / rules.savings_buckets
    return [rules.savings_min + i * step for i in range(rules.savings_buckets + 1)]


def spending_edges(rules: Rules) -> list[float]:
    """Bucket 0 is [0, 0] (no spending); bucket i spans edges i−1..i (fen)."""
    return [0.0, 0.0, *(float(e) for e in rules.spending_edges_fen)]


def allocation_edges(rules: Rules) -> list[float]:
    return [i / rules.allocation_buckets for i in range(rules.allocation_buckets + 1)]


def portfolio_returns(weights: dict[str, float], rules: Rules) -> tuple[float, float]:
    """(1-year, 3-year) return in percent of an allocation (weights renormalised to 1)."""
    total = sum(max(0.0, w) for w in weights.values())
    if total <= 0:
        return 0.0, 0.0
    r1 = sum(max(0.0, weights.get(c.name, 0.0)) * c.return_1y_pct for c in rules.classes) / total
    r3 = sum(max(0.0, weights.get(c.name, 0.0)) * c.return_3y_pct for c in rules.classes) / total
    return r1, r3
