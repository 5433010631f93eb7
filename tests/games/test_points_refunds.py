"""Points back on a card-payment refund (#16 items 1/5): ``games/campaigns`` raises
``on_spending_refunded``; ``games/points`` takes back the payment's points pro rata,
once per refund, never below zero (what the member already spent is a shortfall)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.db import transaction
from app.ledger import service as ledger
from games.points import service as points
from games.points.models import SpendingPoints, SpendingRefundPoints
from tests.games.test_campaigns import admin, capture, make_campaign, quote, refund  # noqa: F401


async def my_balance(client: Any, p: Any) -> int:
    r = await client.get("/v1/me/points", headers=p.headers)
    assert r.status_code == 200, r.text
    return r.json()["balance"]  # type: ignore[no-any-return]


async def paid(client: Any, rt: Any, p: Any, amount_fen: int) -> str:
    q = await quote(client, rt, p, amount_fen=amount_fen)
    r = await capture(client, rt, q["payment_id"])
    assert r.status_code == 200, r.text
    return q["payment_id"]  # type: ignore[no-any-return]


async def test_a_refund_takes_back_the_points_pro_rata_once_per_refund(client, rt, users, admin):  # noqa: F811
    await make_campaign(client, rt, admin)  # 满100减10
    li = await users.make("li")
    pay = await paid(client, rt, li, 100_000)  # ¥1000, ¥10 off: ¥990 paid → 99 points
    assert await my_balance(client, li) == 99
    # half the amount back: the cardholder gets 49 500 of the 99 000 paid → 49 points back
    r = await refund(client, rt, pay, "rf-1", 50_000)
    assert r.status_code == 200, r.text
    assert await my_balance(client, li) == 50
    # the same refund again changes nothing
    assert (await refund(client, rt, pay, "rf-1", 50_000)).status_code == 200
    assert await my_balance(client, li) == 50
    # the rest: all 99 are back, whatever the rounding of the parts
    assert (await refund(client, rt, pay, "rf-2")).status_code == 200
    assert await my_balance(client, li) == 0
    lines = (await client.get("/v1/me/points/statement", headers=li.headers)).json()["items"]
    assert [(x["kind"], x["points"]) for x in lines] == [
        ("points_reversed", -50),
        ("points_reversed", -49),
        ("points_earned", 99),
    ]
    async with rt.sessionmaker() as db:
        a = await ledger.audit(db)
        assert a.ok, a
        row = await db.get(SpendingPoints, pay)
        assert row is not None and (row.reversed_points, row.shortfall, row.refunded_fen) == (99, 0, 99_000)


async def test_points_already_spent_are_taken_as_far_as_they_go_and_the_rest_recorded(
    client,
    rt,
    users,
    admin,  # noqa: F811
):
    await make_campaign(client, rt, admin)
    li = await users.make("li")
    pay = await paid(client, rt, li, 100_000)  # 99 points
    async with rt.sessionmaker() as db, transaction(db):
        await points.spend(db, rt, user_id=li.id, points=90, ref="test:coffee", memo="coffee")
    assert (await refund(client, rt, pay, "rf-all")).status_code == 200
    assert await my_balance(client, li) == 0  # never below zero
    async with rt.sessionmaker() as db:
        row = await db.get(SpendingPoints, pay)
        assert row is not None and (row.reversed_points, row.shortfall) == (99, 90)
        [r] = (await db.execute(select(SpendingRefundPoints))).scalars().all()
        assert (r.refund_id, r.owed, r.taken, r.shortfall) == ("rf-all", 99, 9, 90)
        a = await ledger.audit(db)
        assert a.ok, a


async def my_tier(client: Any, p: Any) -> dict[str, Any]:
    r = await client.get("/v1/me/tiers", headers=p.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_a_refund_lowers_the_tier_total_but_spending_points_does_not(client, rt, users, admin):  # noqa: F811
    li = await users.make("li")
    pay = await paid(client, rt, li, 20_000_000)  # ¥200 000, no campaign: 20 000 points → 白金
    t = await my_tier(client, li)
    assert (t["tier"]["id"], t["rolling_points"]) == ("platinum", 20_000)
    # spending points is not a reversal of earning: the tier total stays
    async with rt.sessionmaker() as db, transaction(db):
        await points.spend(db, rt, user_id=li.id, points=12_000, ref="test:spa", memo="spa")
    t = await my_tier(client, li)
    assert (t["tier"]["id"], t["rolling_points"]) == ("platinum", 20_000)
    # a day later a quarter is refunded: 5 000 points owed (all 8 000 left could pay them)
    await rt.advance_clock(24 * 3600)
    assert (await refund(client, rt, pay, "rf-q", 5_000_000)).status_code == 200
    assert await my_balance(client, li) == 3_000
    t = await my_tier(client, li)
    # the earning is as if it never was: no day of the grace window reached 白金 any more
    assert (t["tier"]["id"], t["rolling_points"], t["downgrade_on"]) == ("gold", 15_000, None)
    # the rest refunded although 3 000 only are left: the tier total drops by all 15 000
    assert (await refund(client, rt, pay, "rf-rest")).status_code == 200
    assert await my_balance(client, li) == 0
    t = await my_tier(client, li)
    assert (t["tier"]["id"], t["rolling_points"], t["points_to_next"]) == ("standard", 0, 5_000)
    async with rt.sessionmaker() as db:
        row = await db.get(SpendingPoints, pay)
        assert row is not None and (row.reversed_points, row.shortfall) == (20_000, 12_000)
        a = await ledger.audit(db)
        assert a.ok, a


async def test_a_refund_takes_away_the_grace_its_points_gave(client, rt, users, admin):  # noqa: F811
    li = await users.make("li")
    old = await paid(client, rt, li, 10_000_000)  # 10 000 points
    await rt.advance_clock(200 * 24 * 3600)
    await paid(client, rt, li, 10_000_000)  # × 1.2 as 金卡: 12 000 more, 22 000 → 白金
    assert (await my_tier(client, li))["tier"]["id"] == "platinum"
    # the older payment's points leave the window after 12 months: 白金 held for the grace
    await rt.advance_clock(170 * 24 * 3600)
    t = await my_tier(client, li)
    assert (t["tier"]["id"], t["rolling_points"]) == ("platinum", 12_000) and t["downgrade_on"]
    # that old payment refunded: it never counted, so 白金 was never reached and no grace
    # comes from it; the gold earned by the other payment stays
    assert (await refund(client, rt, old, "rf-old")).status_code == 200
    t = await my_tier(client, li)
    assert (t["tier"]["id"], t["rolling_points"], t["downgrade_on"]) == ("gold", 12_000, None)
