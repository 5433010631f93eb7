"""Points: earned from card spending and milestones in lots that lapse at the end of the
year after, spent earliest-expiring first, swept to the expiry account, announced 30
days before; Σ = 0 per currency throughout."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.db import transaction
from app.errors import InsufficientFunds
from app.ledger import service as ledger
from games.points import service as points
from games.points.models import PointsLot
from tests.games.helpers import event, spend
from tests.social.money_support import notifications
from tests.support.clock import BEFORE_BANK_NEW_YEAR, ONE_MINUTE

DAY = 24 * 3600


async def audit_ok(rt) -> None:
    async with rt.sessionmaker() as db:
        a = await ledger.audit(db)
    assert a.ok, a
    assert set(a.sums_by_currency) <= {"CNY", "PTS"}


async def lots_consistent(rt) -> None:
    """Σ remaining of each member's lots = the ledger balance of points:<user>; no lot < 0."""
    async with rt.sessionmaker() as db:
        lots = (await db.execute(select(PointsLot))).scalars().all()
        by_user: dict[str, int] = {}
        for lot in lots:
            assert 0 <= lot.remaining <= lot.amount
            by_user[lot.user_id] = by_user.get(lot.user_id, 0) + lot.remaining
        for user_id, total in by_user.items():
            assert await ledger.balance(db, ledger.points_account(user_id)) == total


async def my_points(client, person) -> dict:
    r = await client.get("/v1/me/points", headers=person.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_card_spending_earns_a_point_per_ten_yuan_rounded_down_none_on_bills(client, rt, users):
    li = await users.make("li")
    now = rt.clock.now()
    result = await spend(
        client,
        rt,
        [
            event(li.id, "offline_payment", 12_999, at=now),  # ¥129.99 → 12
            event(li.id, "online_payment", 999, at=now),  # ¥9.99 → 0
            event(li.id, "transit", 5_000, at=now),  # unlisted: × 1 → 5
            event(li.id, "bill_payment", 100_000, at=now),  # × 0
        ],
    )
    assert result["accepted"] == 4
    mine = await my_points(client, li)
    assert mine["balance"] == 17 and mine["currency"] == "PTS" and mine["pending_out"] == 0
    [lot] = mine["lots"]
    assert lot["source"] == "spending" and lot["amount"] == lot["remaining"] == 17
    # earned in 2026 (bank's zone): lapses at the end of 2027
    assert lot["last_day"] == "2027-12-31"
    assert datetime.fromisoformat(lot["expires_at"]) == datetime(2027, 12, 31, 16, 0, tzinfo=UTC)
    assert mine["expiring_soon"] == []
    lines = (await client.get("/v1/me/points/statement", headers=li.headers)).json()["items"]
    assert [(x["kind"], x["points"], x["balance_after"]) for x in lines] == [("points_earned", 17, 17)]
    # the same events again earn nothing (the bank's events are stored once)
    await spend(client, rt, [event(li.id, "offline_payment", 12_999, at=now, event_id="e-x")])
    await spend(client, rt, [event(li.id, "offline_payment", 12_999, at=now, event_id="e-x")])
    assert (await my_points(client, li))["balance"] == 29
    await audit_ok(rt)
    await lots_consistent(rt)


@pytest.mark.clock_start(BEFORE_BANK_NEW_YEAR)
async def test_lots_are_spent_earliest_expiring_first_and_lapse_at_the_bank_new_year(client, rt, users):
    li = await users.make("li")
    # 23:59 on 31 Dec 2026 (Shanghai; still 2026 in UTC too): lapses end of 2027
    await spend(client, rt, [event(li.id, "transit", 10_000, at=rt.clock.now())])  # 10
    await rt.advance_clock(ONE_MINUTE)  # 1 Jan 2027 in Shanghai, still 31 Dec in UTC
    await spend(client, rt, [event(li.id, "transit", 30_000, at=rt.clock.now())])  # 30, end of 2028
    mine = await my_points(client, li)
    assert [(x["remaining"], x["last_day"]) for x in mine["lots"]] == [(10, "2027-12-31"), (30, "2028-12-31")]
    async with rt.sessionmaker() as db, transaction(db):
        await points.spend(db, rt, user_id=li.id, points=5, ref="test:1", memo="coffee")
    mine = await my_points(client, li)
    assert [x["remaining"] for x in mine["lots"]] == [5, 30]  # the 2027 lot went first
    assert mine["balance"] == 35
    await rt.advance_clock(365 * DAY - ONE_MINUTE)  # 23:59 on 31 Dec 2027, Shanghai
    mine = await my_points(client, li)
    assert mine["balance"] == 35
    assert [(x["points"], x["last_day"]) for x in mine["expiring_soon"]] == [(5, "2027-12-31")]
    await rt.advance_clock(ONE_MINUTE)  # the bank's year turns: the 2026 lot lapses
    assert (await my_points(client, li))["balance"] == 30
    # spending never touches a lapsed lot (it lapses it first)
    async with rt.sessionmaker() as db:
        with pytest.raises(InsufficientFunds):
            async with transaction(db):
                await points.spend(db, rt, user_id=li.id, points=31, ref="test:2", memo="too much")
    assert await points.expire_due(rt) == 5
    assert await points.expire_due(rt) == 0
    async with rt.sessionmaker() as db:
        assert await ledger.balance(db, ledger.POINTS_EXPIRED) == 5
        assert await ledger.balance(db, ledger.points_account(li.id)) == 30
    kinds = [
        x["kind"] for x in (await client.get("/v1/me/points/statement", headers=li.headers)).json()["items"]
    ]
    assert kinds[0] == "points_expired"
    await audit_ok(rt)
    await lots_consistent(rt)


@pytest.mark.clock_start(datetime(2027, 12, 1, 15, 59, tzinfo=UTC))  # 23:59 on 1 Dec 2027, Shanghai
async def test_n_points_expire_on_is_sent_once_30_days_before(client, rt, users):
    li = await users.make("li")
    async with rt.sessionmaker() as db:
        lot = await points.grant(db, rt, user_id=li.id, points=40, ref="a", memo="old")
    assert lot is not None
    # the grant lapses at the end of 2028: move the lot's expiry to the end of 2027 as one
    # earned in 2026 would have
    async with rt.sessionmaker() as db, transaction(db):
        from sqlalchemy import update

        await db.execute(
            update(PointsLot).values(
                expires_at=datetime(2027, 12, 31, 16, 0, tzinfo=UTC),
                earned_at=datetime(2026, 6, 1, tzinfo=UTC),
            )
        )
    await points.expire_due(rt)
    assert await notifications(rt, li.id, "points_expiring") == []  # 30 days and a minute ahead
    await rt.advance_clock(ONE_MINUTE)
    await points.expire_due(rt)
    await points.expire_due(rt)
    [n] = await notifications(rt, li.id, "points_expiring")
    assert n.data["points"] == 40 and n.data["last_day"] == "2027-12-31"
    assert n.data["text"] == "40 points expire on 2027-12-31"


async def test_concurrent_spends_never_overdraw_a_lot_or_spend_twice(client, rt, users):
    li = await users.make("li")
    async with rt.sessionmaker() as db:
        for i, n in enumerate([30, 50, 70]):
            await points.grant(db, rt, user_id=li.id, points=n, ref=f"g{i}", memo="seed")

    async def one(i: int) -> bool:
        async with rt.sessionmaker() as db:
            try:
                async with transaction(db):
                    await points.spend(db, rt, user_id=li.id, points=20, ref=f"spend:{i}", memo="x")
                return True
            except InsufficientFunds:
                return False

    results = await asyncio.gather(*(one(i) for i in range(12)))
    assert sum(results) == 7  # 150 // 20
    assert (await my_points(client, li))["balance"] == 10
    await audit_ok(rt)
    await lots_consistent(rt)


async def test_a_planted_tree_and_a_converted_referral_earn_points_once(client, rt, users):
    from app import hooks

    li = await users.make("li")
    async with rt.sessionmaker() as db, transaction(db):
        for _ in range(2):
            await hooks.fire_milestone(db, rt, hooks.Milestone(user_id=li.id, kind="tree_planted", ref="t1"))
        await hooks.fire_milestone(
            db, rt, hooks.Milestone(user_id=li.id, kind="referral_converted", ref="u9")
        )
        await hooks.fire_milestone(
            db, rt, hooks.Milestone(user_id=li.id, kind="quiz_streak", ref="d1", count=6)
        )
        await hooks.fire_milestone(
            db, rt, hooks.Milestone(user_id=li.id, kind="quiz_streak", ref="d2", count=7)
        )
    mine = await my_points(client, li)
    assert mine["balance"] == 100 + 500 + 50
    assert {x["source"] for x in mine["lots"]} == {"milestone"}
    await audit_ok(rt)


async def test_seven_right_quiz_answers_in_a_row_earn_the_streak_points(client, rt, users):
    from games.quiz.service import question_for

    li = await users.make("li")
    for day in range(8):
        _, _, _, right, _ = question_for(li.id, rt.clock.today().isoformat())
        r = await client.post("/v1/farm/quiz/answer", json={"choice": right}, headers=li.headers)
        assert r.status_code == 200, r.text
        assert (await my_points(client, li))["balance"] == (50 if day >= 6 else 0)
        await rt.advance_clock(DAY)


async def test_planting_a_tree_earns_points(client, rt, users):
    from games.forest import service as forest

    li = await users.make("li")
    async with rt.sessionmaker() as db, transaction(db):
        await forest.ensure_accounts(db, [li.id])
        await forest.credit(db, user_id=li.id, grams=20_000)
    r = await client.post("/v1/forest/plant", json={"species_id": "saxaul"}, headers=li.headers)
    assert r.status_code == 200, r.text
    assert (await my_points(client, li))["balance"] == 100


async def test_points_need_a_token_and_are_my_own(client, rt, users):
    li = await users.make("li")
    wang = await users.make("wang")
    async with rt.sessionmaker() as db:
        await points.grant(db, rt, user_id=li.id, points=5, ref="x", memo="x")
    for path in ("/v1/me/points", "/v1/me/points/statement", "/v1/me/tiers", "/v1/me/points/exchanges"):
        assert (await client.get(path)).status_code == 401
    assert (await my_points(client, wang))["balance"] == 0
    assert (await client.get("/v1/me/points/statement", headers=wang.headers)).json()["items"] == []


async def test_the_ledger_refuses_a_transaction_across_currencies(rt, users, client):
    from app.errors import ValidationFailed

    li = await users.make("li", balance_fen=1_000)
    async with rt.sessionmaker() as db:
        await points.grant(db, rt, user_id=li.id, points=5, ref="x", memo="x")
        for entries in (
            ledger.move(ledger.points_account(li.id), ledger.wallet_account(li.id), 1),
            ledger.move(ledger.POINTS_ISSUED, ledger.wallet_account(li.id), 1),
        ):
            with pytest.raises(ValidationFailed):
                async with transaction(db):
                    await ledger.post(db, kind="x", entries=entries, now=rt.clock.now())
        with pytest.raises(ValidationFailed):
            async with transaction(db):
                await ledger.post(
                    db,
                    kind="x",
                    entries=ledger.move(ledger.SETTLEMENT, ledger.points_account(li.id), 1),
                    now=rt.clock.now(),
                    currency=ledger.Currency.PTS,
                )
    await audit_ok(rt)


async def test_li_na_sees_her_points_tier_and_partner_in_the_demo(client, rt):
    from app import seed as seeding
    from app.auth import tokens

    ctx = await seeding.run(rt)
    headers = {"Authorization": f"Bearer {tokens.issue(rt.settings, ctx.users['lina'].id)}"}
    mine = (await client.get("/v1/me/points", headers=headers)).json()
    assert mine["balance"] >= 22_400 and len(mine["lots"]) >= 2
    assert mine["lots"][0]["memo"] == "card spending last year" and mine["lots"][0]["remaining"] == 900
    t = (await client.get("/v1/me/tiers", headers=headers)).json()
    assert t["tier"]["id"] == "platinum"
    hotel = next(p for p in t["partners"] if p["programme_id"] == "hotel")
    assert hotel["tier"] == "Gold" and hotel["member_no"] == "HW-8800123"
    lines = (await client.get("/v1/me/points/statement", headers=headers)).json()["items"]
    assert "points_spent" in {x["kind"] for x in lines}
    await seeding.run(rt)  # a second run changes nothing
    assert (await client.get("/v1/me/points", headers=headers)).json()["balance"] == mine["balance"]
    await audit_ok(rt)
    await lots_consistent(rt)
