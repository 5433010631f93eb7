"""'Users like you': the bank's member attributes, the nightly cohort job, and a member's
insights (``docs/insights.md``).

The job (``compute``) works on sets, never member by member: one statement places every
member in a cell (age band × asset band × risk level), one counts the cells, and one per
statistic counts members per cohort and histogram bucket; only the counts (cohorts ×
buckets) come back to Python, which merges small cells (``rules.merge_cells``), adds the
discrete Laplace noise and reads the quartiles off the noisy histograms. The results replace the
previous night's in the same transaction. A member's own figures are read when asked,
each only from a source they consent to now.
"""

from __future__ import annotations

import itertools
import random
import secrets
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth
from app.db import end_read, transaction
from app.errors import ValidationFailed
from app.events import service as events
from app.insights import rules as R
from app.insights.models import InsightCell, InsightCohort, MemberAttributes
from app.insights.schemas import (
    AllocationReturn,
    CategorySpending,
    CohortPublic,
    Figure,
    InsightsPublic,
    Investing,
    MemberAttributesIn,
    MemberAttributesResult,
    Notice,
    Quartiles,
)
from app.ledger import service as ledger
from app.profile import service as profile
from app.runtime import Runtime

QS = (0.25, 0.5, 0.75)
WALLET, CARD, INVESTMENTS = "wallet", "card", "investments"


def rules_of(rt: Runtime) -> R.Rules:
    return R.load(rt.settings.insights_rules_file)


# -- the bank's attributes -----------------------------------------------------------------


def check_allocation(allocation: dict[str, int] | None, rules: R.Rules) -> dict[str, int] | None:
    """The allocation as stored (None: no investments). Raises ValidationFailed."""
    if not allocation:
        return None
    classes = {c.name for c in rules.classes}
    unknown = sorted(set(allocation) - classes)
    if unknown:
        raise ValidationFailed(f"unknown asset class {unknown[0]!r}", reason="unknown_asset_class")
    if any(v < 0 or v > 10_000 for v in allocation.values()) or sum(allocation.values()) != 10_000:
        raise ValidationFailed("allocation must be basis points summing to 10 000", reason="bad_allocation")
    return {k: v for k, v in allocation.items() if v}


async def set_attributes(
    db: AsyncSession, rt: Runtime, *, members: list[MemberAttributesIn]
) -> MemberAttributesResult:
    """Record what the bank knows of members (birth year, assets, allocation, and the risk
    assessment, kept on the account: ``auth.set_risk_profiles``); a field left out keeps
    its value. Unknown and erased members are counted, nothing of them stored. Raises
    ValidationFailed (nothing stored)."""
    rules = rules_of(rt)
    now = rt.clock.now()
    checked = {m.user_id: (m, check_allocation(m.allocation, rules)) for m in members}
    async with transaction(db):
        known = await auth.live_ids(db, set(checked))
        await auth.set_risk_profiles(
            db, {uid: m.risk_level for uid, (m, _) in checked.items() if uid in known and m.risk_level}
        )
        updated = 0
        for user_id, (m, allocation) in checked.items():
            if user_id not in known:
                continue
            values: dict[str, Any] = {"updated_at": now}
            if m.birth_year is not None:
                values["birth_year"] = m.birth_year
            if m.assets_fen is not None:
                values["assets_fen"] = m.assets_fen
            if m.allocation is not None:
                values["allocation"] = allocation if allocation else sa.null()
            stmt = insert(MemberAttributes).values(user_id=user_id, **values)
            await db.execute(stmt.on_conflict_do_update(index_elements=["user_id"], set_=values))
            updated += 1
    return MemberAttributesResult(received=len(members), updated=updated, unknown_user=len(checked) - updated)


# -- the nightly job -------------------------------------------------------------------------

# The job's own scratch tables, dropped at commit.
_SCRATCH = (
    "CREATE TEMP TABLE ins_members (user_id text, cell text, allocation json) ON COMMIT DROP",
    "CREATE TEMP TABLE ins_cellmap (cell text PRIMARY KEY, cohort int) ON COMMIT DROP",
    "CREATE TEMP TABLE ins_pop (user_id text, cohort int, allocation json, wallet bool, card bool,"
    " investments bool) ON COMMIT DROP",
)
_members = sa.table(
    "ins_members", sa.column("user_id"), sa.column("cell"), sa.column("allocation", sa.JSON())
)
_cellmap = sa.table("ins_cellmap", sa.column("cell"), sa.column("cohort"))
_pop = sa.table(
    "ins_pop",
    *(sa.column(c) for c in ("user_id", "cohort", "wallet", "card", "investments")),
    sa.column("allocation", sa.JSON()),
)


def _bucket(value: Any, lo: float, hi: float, n: int) -> Any:
    """The 0-based bucket of ``value`` among n equal buckets of [lo, hi], clipped."""
    return func.least(func.greatest(func.width_bucket(value, lo, hi, n), 1), n) - 1


def _array(values: Sequence[int]) -> Any:
    return sa.cast(sa.literal(list(values), ARRAY(sa.BigInteger())), ARRAY(sa.BigInteger()))


async def _place(db: AsyncSession, rules: R.Rules, year: int) -> None:
    """Every member with a birth year, assets and a risk level, in their cell."""
    people = auth.members_selectable().subquery()
    m = MemberAttributes.__table__  # type: ignore[attr-defined]
    cell = (
        "a"
        + sa.cast(
            func.width_bucket(sa.cast(year - m.c.birth_year, sa.BigInteger()), _array(rules.age_edges)),
            sa.Text(),
        )
        + "-w"
        + sa.cast(func.width_bucket(m.c.assets_fen, _array(rules.asset_edges_fen)), sa.Text())
        + "-"
        + people.c.risk_profile
    )
    q = (
        select(m.c.user_id, cell, m.c.allocation)
        .join(people, people.c.user_id == m.c.user_id)
        .where(
            m.c.birth_year.is_not(None),
            m.c.assets_fen.is_not(None),
            people.c.risk_profile.in_(list(rules.risk_levels)),
        )
    )
    await db.execute(sa.insert(_members).from_select(["user_id", "cell", "allocation"], q))


async def _population(db: AsyncSession) -> None:
    """Each placed member with their cohort and which sources they consent to."""
    flags = profile.consent_flags((WALLET, CARD, INVESTMENTS)).subquery()
    q = (
        select(
            _members.c.user_id,
            _cellmap.c.cohort,
            _members.c.allocation,
            func.coalesce(flags.c.wallet, False),
            func.coalesce(flags.c.card, False),
            func.coalesce(flags.c.investments, False),
        )
        .join(_cellmap, _cellmap.c.cell == _members.c.cell)
        .outerjoin(flags, flags.c.user_id == _members.c.user_id)
    )
    cols = ["user_id", "cohort", "allocation", "wallet", "card", "investments"]
    await db.execute(sa.insert(_pop).from_select(cols, q))


def _is_investor(allocation: Any) -> Any:
    return func.json_typeof(allocation) == "object"


def _quartiles(values: list[float] | None) -> dict[str, float] | None:
    if values is None:
        return None
    return {"p25": round(values[0], 4), "median": round(values[1], 4), "p75": round(values[2], 4)}


async def compute(
    rt: Runtime, *, rng: random.Random | None = None, rules: R.Rules | None = None
) -> dict[str, Any]:
    """The nightly job: place every member, merge cells below k, count, noise, publish.
    Replaces the previous results in one transaction; returns a summary."""
    rules = rules or rules_of(rt)
    rng = rng or secrets.SystemRandom()  # uniform integers from the OS (the sampler is exact)
    now = rt.clock.now()
    since = now - timedelta(days=rules.window_days)
    async with rt.sessionmaker() as db, transaction(db):
        for statement in _SCRATCH:
            await db.execute(text(statement))
        await _place(db, rules, now.year)
        counts = {
            c: n for c, n in await db.execute(select(_members.c.cell, func.count()).group_by(_members.c.cell))
        }
        cohorts = R.merge_cells(counts, rules.cells, rules.k)
        cellmap = [{"cell": cell, "cohort": i} for i, cells in enumerate(cohorts) for cell in cells]
        if cellmap:
            await db.execute(sa.insert(_cellmap), cellmap)
        await _population(db)
        sizes_q = select(
            _pop.c.cohort,
            func.count(),
            func.count().filter(_pop.c.card),
            func.count().filter(sa.and_(_pop.c.investments, _is_investor(_pop.c.allocation))),
        ).group_by(_pop.c.cohort)
        sizes: dict[int, tuple[int, int, int]] = {
            c: (n, card, inv) for c, n, card, inv in await db.execute(sizes_q)
        }

        flows = ledger.wallet_flows(since, now).subquery()
        rate = func.least(
            func.greatest(
                sa.cast(flows.c.inflow - flows.c.outflow, sa.Float()) / flows.c.inflow, rules.savings_min
            ),
            rules.savings_max,
        )
        bucket = _bucket(rate, rules.savings_min, rules.savings_max, rules.savings_buckets)
        savings_q = (
            select(_pop.c.cohort, bucket, func.count())
            .join(flows, flows.c.user_id == _pop.c.user_id)
            .where(_pop.c.wallet, flows.c.inflow > 0)
            .group_by(_pop.c.cohort, bucket)
        )
        savings: dict[int, list[int]] = defaultdict(lambda: [0] * rules.savings_buckets)
        for cohort, b, n in await db.execute(savings_q):
            savings[cohort][b] = n

        n_spend = len(rules.spending_edges_fen) + 1
        spent = events.spending_totals(since, now, rules.categories).subquery()
        bucket = func.least(
            func.width_bucket(spent.c.amount, _array(rules.spending_edges_fen)) + 1, n_spend - 1
        )
        spending_q = (
            select(_pop.c.cohort, spent.c.category, bucket, func.count())
            .join(spent, spent.c.user_id == _pop.c.user_id)
            .where(_pop.c.card)
            .group_by(_pop.c.cohort, spent.c.category, bucket)
        )
        spending: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0] * n_spend)
        for cohort, cat, b, n in await db.execute(spending_q):
            spending[(cohort, cat)][b] = n

        n_alloc = rules.allocation_buckets
        allocation: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0] * n_alloc)
        for c in rules.classes:
            weight = func.coalesce(sa.cast(_pop.c.allocation.op("->>")(c.name), sa.Integer()), 0) / 10000.0
            bucket = _bucket(weight, 0, 1, n_alloc)
            alloc_q = (
                select(_pop.c.cohort, bucket, func.count())
                .where(_pop.c.investments, _is_investor(_pop.c.allocation))
                .group_by(_pop.c.cohort, bucket)
            )
            for cohort, b, n in await db.execute(alloc_q):
                allocation[(cohort, c.name)][b] = n

        rows = []
        for i, cells in enumerate(cohorts):
            size, card_n, inv_n = sizes.get(i, (0, 0, 0))
            stats = _cohort_stats(rules, rng, i, card_n, inv_n, savings, spending, allocation)
            noisy = size + R.discrete_laplace(R.scale_of(rules.eps_members), rng)
            members_about = max(rules.k, round(noisy / 10.0) * 10)
            rows.append(
                {
                    "id": i,
                    "cells": cells,
                    "members_noisy": members_about,
                    "stats": stats,
                    "rules_version": rules.version,
                    "computed_at": now,
                }
            )
        await db.execute(delete(InsightCell))
        await db.execute(delete(InsightCohort))
        if rows:
            await db.execute(insert(InsightCohort), rows)
            await db.execute(
                insert(InsightCell), [{"cell": c["cell"], "cohort_id": c["cohort"]} for c in cellmap]
            )
    return {"members": sum(counts.values()), "cells": len(counts), "cohorts": len(cohorts)}


def _cohort_stats(
    rules: R.Rules,
    rng: random.Random,
    cohort: int,
    card_n: int,
    inv_n: int,
    savings: dict[int, list[int]],
    spending: dict[tuple[int, str], list[int]],
    allocation: dict[tuple[int, str], list[int]],
) -> dict[str, Any]:
    """One cohort's published statistics from its histograms: noised, and withheld
    (None) where fewer than k members contributed."""
    k = rules.k
    stats: dict[str, Any] = {}
    hist = savings.get(cohort, [0] * rules.savings_buckets)
    stats["savings"] = (
        _quartiles(
            R.quantiles(R.noisy_counts(hist, R.scale_of(rules.eps_savings), rng), R.savings_edges(rules), QS)
        )
        if sum(hist) >= k
        else None
    )
    # A member is in one bucket of each category's histogram (bucket 0: spent nothing), so
    # the categories share ε_spending: each count gets discrete Laplace of scale C / ε_spending.
    scale_cat = R.scale_of(rules.eps_spending, len(rules.categories))
    spend: dict[str, Any] = {}
    for cat in rules.categories:
        h = list(spending.get((cohort, cat), [0] * (len(rules.spending_edges_fen) + 1)))
        h[0] = card_n - sum(h[1:])
        spend[cat] = (
            _quartiles(R.quantiles(R.noisy_counts(h, scale_cat, rng), R.spending_edges(rules), QS))
            if card_n >= k
            else None
        )
    stats["spending"] = spend
    typical: dict[str, float] | None = None
    if inv_n >= k:
        scale_cls = R.scale_of(rules.eps_allocation, len(rules.classes))
        medians = {}
        for c in rules.classes:
            h = allocation.get((cohort, c.name), [0] * rules.allocation_buckets)
            found = R.quantiles(R.noisy_counts(h, scale_cls, rng), R.allocation_edges(rules), (0.5,))
            medians[c.name] = max(0.0, found[0]) if found else 0.0
        total = sum(medians.values())
        if total > 0:
            typical = {name: round(w / total, 4) for name, w in medians.items()}
    stats["typical_allocation"] = typical
    return stats


# -- a member's insights -----------------------------------------------------------------------


def _band_labels(edges: tuple[int, ...], unit: str, scale: int = 1) -> list[str]:
    shown = [f"{e // scale:,}" for e in edges]
    return (
        [f"< {shown[0]}{unit}"]
        + [f"{a}–{b}{unit}" for a, b in itertools.pairwise(shown)]
        + [f"≥ {shown[-1]}{unit}"]
    )


async def _my_savings_rate(db: AsyncSession, user_id: str, since: datetime, until: datetime) -> float | None:
    row = (await db.execute(ledger.wallet_flows(since, until, user_id=user_id))).first()
    if row is None or not row.inflow:
        return None
    return round(max(-1.0, min(1.0, (row.inflow - row.outflow) / row.inflow)), 4)


async def _my_spending(
    db: AsyncSession, rules: R.Rules, user_id: str, since: datetime, until: datetime
) -> dict[str, int]:
    rows = await db.execute(events.spending_totals(since, until, rules.categories, user_id=user_id))
    found = {cat: 0 for cat in rules.categories}
    for row in rows:
        found[row.category] = found[row.category] + int(row.amount)
    return found


def notice() -> Notice:
    return Notice(zh=R.NOTICE_ZH, en=R.NOTICE_EN)


async def insights(db: AsyncSession, rt: Runtime, *, user_id: str) -> InsightsPublic:
    """The member's cohort (as the last nightly run published it) and their own figures
    beside it, each from a source they consent to."""
    rules = rules_of(rt)
    now = rt.clock.now()
    since = now - timedelta(days=rules.window_days)
    attrs = await db.get(MemberAttributes, user_id)
    person = (await auth.profiles(db, {user_id})).get(user_id)
    risk = person.risk_profile if person else None
    granted = {s for _, s in await profile.consented(db, [(user_id, s) for s in (WALLET, CARD, INVESTMENTS)])}
    missing = []
    if attrs is None or attrs.birth_year is None:
        missing.append("birth_year")
    if attrs is None or attrs.assets_fen is None:
        missing.append("assets")
    if risk not in rules.risk_levels:
        missing.append("risk_profile")
    cohort_row: InsightCohort | None = None
    if not missing and attrs is not None and attrs.birth_year is not None and attrs.assets_fen is not None:
        cell = R.cell_key(
            R.band(now.year - attrs.birth_year, rules.age_edges),
            R.band(attrs.assets_fen, rules.asset_edges_fen),
            str(risk),
        )
        placed = await db.get(InsightCell, cell)
        if placed is not None:
            cohort_row = await db.get(InsightCohort, placed.cohort_id)
        if cohort_row is None:
            missing.append("not_computed")
    my_rate = await _my_savings_rate(db, user_id, since, now) if WALLET in granted else None
    my_spend = await _my_spending(db, rules, user_id, since, now) if CARD in granted else None
    my_alloc: dict[str, float] | None = None
    if (
        INVESTMENTS in granted
        and attrs is not None
        and isinstance(attrs.allocation, dict)
        and attrs.allocation
    ):
        my_alloc = {k: v / 10_000 for k, v in attrs.allocation.items()}
    await end_read(db)

    stats = cohort_row.stats if cohort_row else {}

    def quart(value: dict[str, float] | None) -> Quartiles | None:
        return Quartiles(**value) if value else None

    def contributors(value: Any) -> Any:
        return "at_least_k" if value else "fewer_than_k"

    savings = stats.get("savings")
    spending_stats = stats.get("spending", {})
    typical = stats.get("typical_allocation")
    investing = None
    if cohort_row is not None or my_alloc is not None:
        cohort_r = R.portfolio_returns(typical, rules) if typical else None
        mine_r = R.portfolio_returns(my_alloc, rules) if my_alloc else None
        investing = Investing(
            typical_allocation=typical,
            my_allocation=my_alloc,
            returns=[
                AllocationReturn(
                    horizon_years=h,
                    cohort_pct=round(cohort_r[i], 2) if cohort_r else None,
                    mine_pct=round(mine_r[i], 2) if mine_r else None,
                )
                for i, h in enumerate((1, 3))
            ],
        )
    risks = sorted({c.rsplit("-", 1)[1] for c in cohort_row.cells}) if cohort_row else []
    ages = sorted({int(c.split("-")[0][1:]) for c in cohort_row.cells}) if cohort_row else []
    assets = sorted({int(c.split("-")[1][1:]) for c in cohort_row.cells}) if cohort_row else []
    age_labels = _band_labels(rules.age_edges, "岁")
    asset_labels = _band_labels(rules.asset_edges_fen, "元", scale=100)
    return InsightsPublic(
        cohort=CohortPublic(
            cells=cohort_row.cells,
            age_bands=[age_labels[a] for a in ages],
            asset_bands=[asset_labels[a] for a in assets],
            risk_levels=risks,
            members_about=cohort_row.members_noisy,
            k=rules.k,
        )
        if cohort_row
        else None,
        missing=missing,
        window_days=rules.window_days,
        savings_rate=Figure(cohort=quart(savings), mine=my_rate, contributors=contributors(savings))
        if cohort_row or my_rate is not None
        else None,
        spending=[
            CategorySpending(
                category=cat,
                cohort_fen=quart(spending_stats.get(cat)),
                mine_fen=my_spend[cat] if my_spend is not None else None,
                contributors=contributors(spending_stats.get(cat)),
            )
            for cat in rules.categories
        ],
        investing=investing,
        epsilon=rules.epsilon_total,
        computed_at=cohort_row.computed_at if cohort_row else None,
        notice=notice(),
    )


# -- personal data -------------------------------------------------------------------------------


async def personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> dict[str, Any]:
    """What the bank told us of the member for 'users like you'."""
    attrs = await db.get(MemberAttributes, user_id)
    if attrs is None:
        return {"attributes": None}
    return {
        "attributes": {
            "birth_year": attrs.birth_year,
            "assets_fen": attrs.assets_fen,
            "allocation": attrs.allocation if isinstance(attrs.allocation, dict) else None,
            "updated_at": attrs.updated_at.isoformat(),
        }
    }


async def erase_personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> None:
    await db.execute(delete(MemberAttributes).where(MemberAttributes.user_id == user_id))


async def cohort_sizes(db: AsyncSession) -> list[tuple[list[str], int]]:
    """(cells, published member count) of every published cohort (tests, the console)."""
    rows = await db.execute(
        select(InsightCohort.cells, InsightCohort.members_noisy).order_by(InsightCohort.id)
    )
    return [(list(c), n) for c, n in rows]
