"""Users like you (issue 17.6): cohorts merged to k, noised statistics, the notice, consent."""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
import statistics
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from app.auth import service as auth
from app.auth.models import User
from app.db import transaction
from app.insights import rules as R
from app.insights import service as insights
from app.insights.models import InsightCohort, MemberAttributes
from app.insights.synthetic import populate
from tests.games.helpers import event, service_headers, spend
from tests.support.people import error_code

RULES = R.load()


# -- the pure rules ---------------------------------------------------------------------------


def _coords(cell: str) -> tuple[int, int, int]:
    a, w, risk = cell.split("-")
    return int(a[1:]), int(w[1:]), RULES.risk_levels.index(risk)


def test_the_neighbour_order_visits_every_cell_once_by_single_steps() -> None:
    order = RULES.cells
    assert len(order) == len(set(order)) == 6 * 6 * 5
    for one, two in itertools.pairwise(order):
        assert sum(abs(x - y) for x, y in zip(_coords(one), _coords(two), strict=True)) == 1


@given(st.lists(st.integers(0, 80), min_size=180, max_size=180), st.integers(2, 60))
def test_merged_cohorts_all_reach_k_and_cover_every_cell(sizes: list[int], k: int) -> None:
    counts = dict(zip(RULES.cells, sizes, strict=True))
    cohorts = R.merge_cells(counts, RULES.cells, k)
    if sum(sizes) < k:
        assert cohorts == []
        return
    assert all(sum(counts[c] for c in cohort) >= k for cohort in cohorts)
    assert [c for cohort in cohorts for c in cohort] == RULES.cells  # each cell once, contiguous


def test_discrete_laplace_noise_has_the_documented_scale_and_bound() -> None:
    rng = random.Random(7)
    scale = R.scale_of(RULES.eps_savings)
    assert scale == Fraction(2)  # ε = 0.5 exactly, not the nearest double
    draws = [R.discrete_laplace(scale, rng) for _ in range(20_000)]
    assert all(isinstance(d, int) for d in draws)  # integers: nothing in low-order bits
    a = math.exp(-1 / float(scale))  # P[Z = z] = (1 − a)/(1 + a)·a^|z|
    assert abs(statistics.fmean(draws)) < 0.1
    assert statistics.pstdev(draws) == pytest.approx(math.sqrt(2 * a) / (1 - a), rel=0.05)
    assert max(abs(d) for d in draws) <= R.noise_bound(scale)


def test_discrete_laplace_follows_its_exact_distribution() -> None:
    """The empirical frequencies of a rational scale match P[Z = z] = (1−a)/(1+a)·a^|z|,
    a = exp(−1/b), within 4 standard errors for every z, also for a scale that is not a
    whole number (b = 6/1 and b = 5/2 take different paths of the sampler)."""
    for scale in (Fraction(6), Fraction(5, 2), Fraction(1, 3)):
        rng = random.Random(11)
        n = 20_000
        seen = Counter(R.discrete_laplace(scale, rng) for _ in range(n))
        a = math.exp(-1 / float(scale))
        for z in range(-8, 9):
            p = (1 - a) / (1 + a) * a ** abs(z)
            se = math.sqrt(p * (1 - p) / n)
            assert abs(seen[z] / n - p) <= 4 * se + 1e-4, (scale, z, seen[z] / n, p)


def test_bernoulli_exp_is_exact_in_frequency() -> None:
    rng = random.Random(3)
    for gamma in (Fraction(0), Fraction(1, 10), Fraction(1), Fraction(5, 2)):
        n = 20_000
        hits = sum(R.bernoulli_exp(gamma, rng) for _ in range(n))
        p = math.exp(-float(gamma))
        assert abs(hits / n - p) <= 4 * math.sqrt(p * (1 - p) / n) + 1e-9, gamma


def test_a_huge_epsilon_adds_no_noise() -> None:
    rng = random.Random(5)
    assert R.noisy_counts([0, 3, 70], R.scale_of(1e9), rng) == [0, 3, 70]


def test_quartiles_of_a_histogram_interpolate_inside_buckets() -> None:
    assert R.quantiles([0, 10, 10, 0], [0, 1, 2, 3, 4], (0.25, 0.5, 0.75)) == [1.5, 2.0, 2.5]
    assert R.quantiles([0, 0], [0, 1, 2], (0.5,)) is None


# -- the job on a skewed population -------------------------------------------------------------


async def _populate(rt, n: int) -> None:
    async with rt.sessionmaker() as db, transaction(db):
        await populate(db, n=n, now=rt.clock.now())


async def _true_cells(rt) -> dict[str, int]:
    """Each member's cell, placed here in Python (independently of the job's SQL)."""
    year = rt.clock.now().year
    async with rt.sessionmaker() as db:
        rows = await db.execute(
            select(MemberAttributes.birth_year, MemberAttributes.assets_fen, User.risk_profile).join(
                User, User.id == MemberAttributes.user_id
            )
        )
        counts: dict[str, int] = {}
        for birth_year, assets, risk in rows:
            cell = R.cell_key(
                R.band(year - birth_year, RULES.age_edges), R.band(assets, RULES.asset_edges_fen), risk
            )
            counts[cell] = counts.get(cell, 0) + 1
    return counts


async def _cohorts(rt) -> list[InsightCohort]:
    async with rt.sessionmaker() as db:
        return list((await db.execute(select(InsightCohort).order_by(InsightCohort.id))).scalars())


async def test_every_published_cohort_has_k_members_on_a_skewed_population(rt) -> None:
    await _populate(rt, 1500)
    cells = await _true_cells(rt)
    tiny = [c for c, n in cells.items() if n < RULES.k]
    assert len(tiny) > 40  # many tiny cells: 70 % sit in one cell, the rest spread thinly
    summary = await insights.compute(rt, rng=random.Random(1))
    cohorts = await _cohorts(rt)
    assert summary["cohorts"] == len(cohorts) > 1
    published = [c for cohort in cohorts for c in cohort.cells]
    assert len(published) == len(set(published)) and set(cells) <= set(published)
    for cohort in cohorts:
        assert sum(cells.get(c, 0) for c in cohort.cells) >= RULES.k
        assert cohort.members_noisy >= RULES.k
        # A statistic is published from ≥ k contributors or not at all.
        assert set(cohort.stats) == {"savings", "spending", "typical_allocation"}


async def test_a_population_below_k_publishes_nothing(rt) -> None:
    await _populate(rt, RULES.k - 1)
    assert (await insights.compute(rt, rng=random.Random(1)))["cohorts"] == 0
    assert await _cohorts(rt) == []


async def test_published_figures_are_noised_within_the_documented_bound(rt) -> None:
    await _populate(rt, 1000)
    exact_rules = dataclasses.replace(
        RULES, eps_members=1e9, eps_savings=1e9, eps_spending=1e9, eps_allocation=1e9
    )
    await insights.compute(rt, rng=random.Random(1), rules=exact_rules)
    exact = {c.id: c for c in await _cohorts(rt)}
    await insights.compute(rt, rng=random.Random(2))
    noisy = {c.id: c for c in await _cohorts(rt)}
    assert exact.keys() == noisy.keys()
    big = max(exact.values(), key=lambda c: c.members_noisy)
    assert noisy[big.id].stats != big.stats  # noise is there
    bound = R.noise_bound(1 / RULES.eps_members) + 10  # + rounding to tens, at least k
    assert abs(noisy[big.id].members_noisy - big.members_noisy) <= bound
    # The median savings rate moves by less than the noise on the histogram can explain:
    # with ≥ 100 contributors, at most a few buckets of 5 points.
    assert big.stats["savings"] is not None
    assert abs(noisy[big.id].stats["savings"]["median"] - big.stats["savings"]["median"]) <= 0.25
    for cohort in noisy.values():
        for q in filter(None, cohort.stats["spending"].values()):
            assert 0 <= q["p25"] <= q["median"] <= q["p75"] <= RULES.spending_edges_fen[-1]


# -- GET /v1/me/insights ------------------------------------------------------------------------


async def _attributes(client, rt, members: list[dict]) -> dict:
    r = await client.put(
        "/v1/bank/members/attributes", json={"members": members}, headers=service_headers(rt)
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def _consent(client, person, *scenarios: str) -> None:
    body = {"consents": [{"scenario": s, "granted": True} for s in scenarios]}
    r = await client.put("/v1/me/consents", json=body, headers=person.headers)
    assert r.status_code == 200, r.text


async def _me(client, person) -> dict:
    r = await client.get("/v1/me/insights", headers=person.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def _place(client, rt, person, *, risk: str = "C3") -> None:
    year = rt.clock.now().year
    allocation = {"deposits": 2000, "funds": 5000, "stocks": 3000}
    body = [
        {"user_id": person.id, "birth_year": year - 30, "assets_fen": 10_000_000, "allocation": allocation}
    ]
    await _attributes(client, rt, body)
    async with rt.sessionmaker() as db:
        await auth.set_bank_profile(db, user_id=person.id, risk_profile=risk)


async def test_a_member_sees_their_cohort_with_their_own_figures_and_the_notice(client, rt, users) -> None:
    li = await users.make("li", balance_fen=50_000)
    await _place(client, rt, li)
    await _consent(client, li, "wallet", "card", "investments")
    await spend(client, rt, [event(li.id, "transit", 1_200, at=rt.clock.now())])
    await _populate(rt, 600)  # 70 % of them share Li's cell (30 years old, 100 000 yuan, C3)
    await insights.compute(rt, rng=random.Random(3))
    body = await _me(client, li)
    assert body["notice"]["zh"].startswith("过往业绩不预示未来表现")
    assert "Past returns do not predict future returns" in body["notice"]["en"]
    assert "a1-w2-C3" in body["cohort"]["cells"] and body["cohort"]["members_about"] >= 50
    assert "C3" in body["cohort"]["risk_levels"]
    assert body["savings_rate"]["cohort"]["p25"] <= body["savings_rate"]["cohort"]["median"]
    assert body["savings_rate"]["mine"] == 1.0  # a top-up in, nothing out
    transit = next(s for s in body["spending"] if s["category"] == "transit")
    assert transit["mine_fen"] == 1_200 and transit["cohort_fen"] is not None
    returns = {r["horizon_years"]: r for r in body["investing"]["returns"]}
    assert returns[1]["mine_pct"] == pytest.approx(0.2 * 1.6 + 0.5 * 6.2 + 0.3 * 12.5, abs=0.01)
    assert returns[3]["cohort_pct"] is not None
    assert body["epsilon"] == pytest.approx(RULES.epsilon_total)
    text = str(body)
    for word in ("best", "top", "max", "user_id"):
        assert word not in text  # no best performer, no single person


async def test_without_consent_my_figures_are_not_used(client, rt, users) -> None:
    li = await users.make("li", balance_fen=50_000)
    await _place(client, rt, li)
    await spend(client, rt, [event(li.id, "transit", 1_200, at=rt.clock.now())])
    body = await _me(client, li)  # nothing computed yet: no cohort, still the notice
    assert body["cohort"] is None and body["missing"] == ["not_computed"]
    assert body["notice"]["en"] and body["savings_rate"] is None
    assert all(s["mine_fen"] is None for s in body["spending"])
    assert body["investing"] is None
    await _consent(client, li, "card")
    body = await _me(client, li)
    assert {s["category"]: s["mine_fen"] for s in body["spending"]}["transit"] == 1_200


async def test_a_statistic_with_fewer_than_k_consenting_contributors_is_withheld(client, rt, users) -> None:
    await _populate(rt, 200)
    async with rt.sessionmaker() as db, transaction(db):
        from sqlalchemy import text

        await db.execute(text("DELETE FROM profile_consents WHERE scenario = 'card' AND user_id <> 'u_ins5'"))
    await insights.compute(rt, rng=random.Random(4))
    for cohort in await _cohorts(rt):
        assert all(q is None for q in cohort.stats["spending"].values())


async def test_no_token_and_user_tokens_are_refused(client, rt, users) -> None:
    li = await users.make("li")
    assert (await client.get("/v1/me/insights")).status_code == 401
    r = await client.put(
        "/v1/bank/members/attributes",
        json={"members": [{"user_id": li.id, "birth_year": 1990}]},
        headers=li.headers,
    )
    assert r.status_code == 401
    # Nobody asks for another member's insights: the route has no id, and B's figures are B's.
    bo = await users.make("bo")
    await _consent(client, li, "card")
    await _consent(client, bo, "card")
    await spend(client, rt, [event(bo.id, "transit", 9_900, at=rt.clock.now())])
    mine = {s["category"]: s["mine_fen"] for s in (await _me(client, li))["spending"]}
    assert mine["transit"] == 0


async def test_bank_attributes_are_validated_and_unknown_members_counted(client, rt, users) -> None:
    li = await users.make("li")
    answer = await _attributes(client, rt, [{"user_id": li.id, "birth_year": 1990}, {"user_id": "u_nobody"}])
    assert answer == {"received": 2, "updated": 1, "unknown_user": 1}
    bad = {"members": [{"user_id": li.id, "allocation": {"crypto": 10_000}}]}
    r = await client.put("/v1/bank/members/attributes", json=bad, headers=service_headers(rt))
    assert r.status_code == 422 and error_code(r) == "validation_error"
    bad = {"members": [{"user_id": li.id, "allocation": {"funds": 9_000}}]}
    r = await client.put("/v1/bank/members/attributes", json=bad, headers=service_headers(rt))
    assert r.status_code == 422
    body = await _me(client, li)
    assert body["cohort"] is None and body["missing"] == ["assets", "risk_profile"]


async def test_the_demo_li_na_sees_her_cohort(client, rt) -> None:
    from app import seed as seeding

    ctx = await seeding.run(rt, echo=lambda *_: None)
    headers = {"Authorization": f"Bearer {(await seeding.demo_tokens(ctx))['lina']}"}
    body = (await client.get("/v1/me/insights", headers=headers)).json()
    assert body["cohort"] is not None and "a1-w2-C3" in body["cohort"]["cells"]
    assert body["investing"]["my_allocation"]["deposits"] == 0.4
    assert body["notice"]["en"].startswith("Past returns")


async def test_the_bank_sets_the_risk_level_which_products_and_the_cohort_use(client, rt, users) -> None:
    from tests.content.products_support import catalogue

    admin = await users.make("admin", roles="admin,user")
    await catalogue(client, admin)
    li, gone = await users.make("li"), await users.make("gone")

    async def visible() -> list[str]:
        r = await client.get("/v1/products", headers=li.headers)
        assert r.status_code == 200, r.text
        return [p["product_id"] for p in r.json()["items"]]

    assert await visible() == ["dep-r1"]  # not assessed: R1 only
    assert (await _me(client, li))["missing"] == ["birth_year", "assets", "risk_profile"]
    assert (await client.delete("/v1/me", headers=gone.headers)).status_code == 204
    answer = await _attributes(
        client,
        rt,
        [
            {"user_id": li.id, "risk_level": "C3", "birth_year": 1990},
            {"user_id": gone.id, "risk_level": "C5"},  # erased: nothing of them is stored
        ],
    )
    assert answer == {"received": 2, "updated": 1, "unknown_user": 1}
    assert await visible() == ["dep-r1", "fund-r3"]
    assert (await _me(client, li))["missing"] == ["assets"]
    # a field left out keeps its value; a new assessment replaces it
    await _attributes(client, rt, [{"user_id": li.id, "assets_fen": 1_000_000}])
    assert await visible() == ["dep-r1", "fund-r3"]
    await _attributes(client, rt, [{"user_id": li.id, "risk_level": "C5"}])
    assert await visible() == ["dep-r1", "fund-r3", "fund-r5"]
    async with rt.sessionmaker() as db:
        assert (await auth.profiles(db, [gone.id]))[gone.id].risk_profile is None
    for bad in ("C6", "c3", "", 3, None):
        body = {"members": [{"user_id": li.id, "risk_level": bad, "birth_year": 1980}]}
        r = await client.put("/v1/bank/members/attributes", json=body, headers=service_headers(rt))
        if bad is None:  # null is "left out"
            assert r.status_code == 200
            continue
        assert r.status_code == 422 and error_code(r) == "validation_error", bad
    assert await visible() == ["dep-r1", "fund-r3", "fund-r5"]
    r = await client.put(
        "/v1/bank/members/attributes",
        json={"members": [{"user_id": li.id, "risk_level": "C1"}]},
        headers=li.headers,
    )
    assert r.status_code == 401
    assert await visible() == ["dep-r1", "fund-r3", "fund-r5"]
