"""Rights pool (权益) through the public API: admins' catalogue, members' claims paid in
points or free for their tier, vouchers with a code and a QR code, merchants' verify
and redeem (service token, once), refunds before use, expiry by the scheduler, and
stock and per-member limits under concurrent claims."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.db import transaction
from app.ledger import service as ledger
from app.scheduler.runner import JobRunner
from games.points import service as points
from games.rights.jobs import JOBS
from games.rights.models import Right, Voucher
from tests.games.helpers import service_headers
from tests.support.people import Person, error_code

DAY = 24 * 3600
_keys = itertools.count(1)


@pytest.fixture
async def admin(users: Any) -> Person:
    return await users.make("admin", roles="admin,user")  # type: ignore[no-any-return]


def right_body(rt: Any, **over: Any) -> dict[str, Any]:
    now = rt.clock.now()
    body = {
        "kind": "coupon",
        "title": "星巴克 ¥30 券",
        "partner": "Starbucks",
        "points_price": 500,
        "stock": 10,
        "per_user_limit": 2,
        "limit_period": "month",
        "voucher_valid_days": 30,
        "available_from": (now - timedelta(hours=1)).isoformat(),
        "available_until": (now + timedelta(days=60)).isoformat(),
    }
    return body | over


async def make_right(client: Any, rt: Any, admin: Person, **over: Any) -> dict[str, Any]:
    r = await client.post("/v1/admin/rights", json=right_body(rt, **over), headers=admin.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def give_points(rt: Any, p: Person, n: int) -> None:
    async with rt.sessionmaker() as db:
        await points.grant(db, rt, user_id=p.id, points=n, ref=f"test-{p.id}-{n}-{next(_keys)}", memo="test")


async def claim(client: Any, p: Person, right_id: str, key: str | None = None) -> Any:
    headers = p.headers | {"Idempotency-Key": key or f"k-{next(_keys)}"}
    return await client.post(f"/v1/rights/{right_id}/claim", headers=headers)


async def balance(client: Any, p: Person) -> int:
    r = await client.get("/v1/me/points", headers=p.headers)
    assert r.status_code == 200, r.text
    return r.json()["balance"]  # type: ignore[no-any-return]


async def audit_ok(rt: Any) -> None:
    async with rt.sessionmaker() as db:
        a = await ledger.audit(db)
    assert a.ok, a


async def test_claim_with_points_then_a_merchant_redeems_the_code_once(client, rt, users, admin):
    li = await users.make("li")
    await give_points(rt, li, 1_200)
    right = await make_right(client, rt, admin)
    cat = (await client.get("/v1/rights", headers=li.headers)).json()
    assert set(cat) == {"items", "next_cursor"}
    [row] = cat["items"]
    assert row["claimable"] and row["reason"] is None and row["my_price_points"] == 500
    r = await claim(client, li, right["id"], key="once")
    assert r.status_code == 201, r.text
    v = r.json()
    assert v["state"] == "issued" and v["paid_points"] == 500 and v["free_tier"] is None
    assert v["code"].startswith("QZ-") and len(v["code"]) == 22
    # a retry with the same key answers the first claim and charges nothing more
    again = await claim(client, li, right["id"], key="once")
    assert again.status_code == 201 and again.json()["id"] == v["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await balance(client, li) == 700
    mine = (await client.get("/v1/me/rights", headers=li.headers)).json()
    assert set(mine) == {"items", "next_cursor"} and [x["id"] for x in mine["items"]] == [v["id"]]
    png = await client.get(v["qr_url"], headers=li.headers)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    # the merchant checks and redeems it, typed loosely
    typed = v["code"].lower().replace("-", " ")
    body = {"code": typed, "merchant_id": "starbucks-001"}
    check = await client.post("/v1/merchant/vouchers/verify", json=body, headers=service_headers(rt))
    assert check.status_code == 200, check.text
    assert check.json()["redeemable"] and check.json()["voucher_id"] == v["id"]
    assert "user_id" not in check.json()
    tills = await asyncio.gather(
        *(
            client.post("/v1/merchant/vouchers/redeem", json=body, headers=service_headers(rt))
            for _ in range(5)
        )
    )
    codes = Counter(t.status_code for t in tills)
    assert codes == {200: 1, 409: 4}, [t.text for t in tills]
    assert all(error_code(t) == "conflict" for t in tills if t.status_code == 409)
    got = (await client.get(f"/v1/me/rights/{v['id']}", headers=li.headers)).json()
    assert got["state"] == "redeemed" and got["redeemed_at"] is not None
    # redeemed: no refund
    r = await client.post(f"/v1/me/rights/{v['id']}/refund", headers=li.headers)
    assert r.status_code == 409 and r.json()["error"]["details"]["reason"] == "redeemed"
    await audit_ok(rt)


async def test_refund_before_use_gives_points_stock_and_the_claim_back_once(client, rt, users, admin):
    li = await users.make("li")
    await give_points(rt, li, 1_000)
    right = await make_right(client, rt, admin, stock=1, per_user_limit=1)
    v = (await claim(client, li, right["id"])).json()
    assert await balance(client, li) == 500
    # out of stock and over my limit
    [row] = (await client.get("/v1/rights", headers=li.headers)).json()["items"]
    assert not row["claimable"] and row["reason"] == "sold_out" and row["claimed_in_period"] == 1
    r = await client.post(f"/v1/me/rights/{v['id']}/refund", headers=li.headers)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "refunded"
    assert await balance(client, li) == 1_000
    again = await client.post(f"/v1/me/rights/{v['id']}/refund", headers=li.headers)
    assert again.status_code == 409 and again.json()["error"]["details"]["reason"] == "refunded"
    assert await balance(client, li) == 1_000
    [row] = (await client.get("/v1/rights", headers=li.headers)).json()["items"]
    assert row["claimable"] and row["stock_left"] == 1 and row["claimed_in_period"] == 0
    kinds = [
        x["kind"] for x in (await client.get("/v1/me/points/statement", headers=li.headers)).json()["items"]
    ]
    assert kinds[:2] == ["points_refunded", "points_spent"]
    # the refunded code cannot be redeemed
    body = {"code": v["code"], "merchant_id": "m-1"}
    r = await client.post("/v1/merchant/vouchers/redeem", json=body, headers=service_headers(rt))
    assert r.status_code == 409 and r.json()["error"]["details"]["reason"] == "refunded"
    await audit_ok(rt)


async def test_monthly_tier_rights_are_free_once_a_month_for_that_tier(client, rt, users, admin):
    plat, std = await users.make("plat"), await users.make("std")
    await give_points(rt, plat, 20_000)  # 白金 Platinum: coffee and video membership monthly
    coffee = await make_right(
        client, rt, admin, kind="coffee", title="瑞幸咖啡", points_price=None, stock=100
    )
    [row] = (await client.get("/v1/rights", headers=plat.headers)).json()["items"]
    assert row["free_for_me"] and row["my_price_points"] == 0 and row["claimable"]
    assert row["free_for_tiers"] == ["gold", "platinum", "diamond"]
    r = await claim(client, plat, coffee["id"])
    assert r.status_code == 201, r.text
    assert r.json()["free_tier"] == "platinum" and r.json()["paid_points"] == 0
    assert await balance(client, plat) == 20_000
    r = await claim(client, plat, coffee["id"])
    assert r.status_code == 409 and error_code(r) == "limit_exceeded"
    assert r.json()["error"]["details"]["limit"] == "monthly_right_used"
    [row] = (await client.get("/v1/rights", headers=plat.headers)).json()["items"]
    assert not row["claimable"] and row["reason"] == "monthly_right_used"
    # a standard member does not get it
    r = await claim(client, std, coffee["id"])
    assert r.status_code == 403 and error_code(r) == "forbidden"
    [row] = (await client.get("/v1/rights", headers=std.headers)).json()["items"]
    assert row["reason"] == "tier" and row["my_price_points"] is None
    # next month it is free again
    await rt.advance_clock(31 * DAY)
    r = await claim(client, plat, coffee["id"])
    assert r.status_code == 201 and r.json()["free_tier"] == "platinum"


async def test_tier_eligibility_and_a_priced_right_free_for_the_tier(client, rt, users, admin):
    gold, std = await users.make("gold"), await users.make("std")
    await give_points(rt, gold, 6_000)
    await give_points(rt, std, 1_000)
    lounge = await make_right(client, rt, admin, kind="lounge", tiers=["gold", "platinum"], points_price=100)
    r = await claim(client, std, lounge["id"])
    assert r.status_code == 403 and r.json()["error"]["details"]["reason"] == "tier"
    assert (await claim(client, gold, lounge["id"])).status_code == 201
    # a priced coffee: gold gets the month's first free, then pays
    coffee = await make_right(client, rt, admin, kind="coffee", points_price=300, per_user_limit=5)
    first, second = (
        (await claim(client, gold, coffee["id"])).json(),
        (await claim(client, gold, coffee["id"])).json(),
    )
    assert (first["paid_points"], second["paid_points"]) == (0, 300)
    r = await claim(client, std, coffee["id"])
    assert r.status_code == 201 and r.json()["paid_points"] == 300


async def test_concurrent_claims_never_oversell_nor_pass_the_member_limit(client, rt, users, admin):
    people = [await users.make(f"p{i}") for i in range(40)]
    for p in people:
        await give_points(rt, p, 1_000)
    right = await make_right(client, rt, admin, points_price=10, stock=50, per_user_limit=3)
    results = await asyncio.gather(*(claim(client, p, right["id"]) for p in people for _ in range(5)))
    codes = Counter(r.status_code for r in results)
    assert codes[201] == 50, codes
    assert set(codes) <= {201, 409}
    async with rt.sessionmaker() as db:
        r = await db.get(Right, right["id"])
        assert r is not None and r.stock_left == 0
        per_user = dict(
            (await db.execute(select(Voucher.user_id, func.count()).group_by(Voucher.user_id))).all()  # type: ignore[arg-type]
        )
    assert sum(per_user.values()) == 50 and max(per_user.values()) <= 3
    for p in people:
        assert await balance(client, p) == 1_000 - 10 * per_user.get(p.id, 0)
    await audit_ok(rt)


async def test_one_member_claiming_concurrently_gets_exactly_the_limit(client, rt, users, admin):
    li = await users.make("li")
    await give_points(rt, li, 100_000)
    right = await make_right(
        client, rt, admin, points_price=7, stock=1_000, per_user_limit=3, limit_period="day"
    )
    results = await asyncio.gather(*(claim(client, li, right["id"]) for _ in range(200)))
    codes = Counter(r.status_code for r in results)
    assert codes == {201: 3, 409: 197}, codes
    assert {error_code(r) for r in results if r.status_code == 409} == {"limit_exceeded"}
    assert await balance(client, li) == 100_000 - 21
    [row] = (await client.get("/v1/rights", headers=li.headers)).json()["items"]
    assert row["stock_left"] == 997 and row["reason"] == "limit_reached"
    await rt.advance_clock(DAY)  # a new bank day: the daily limit starts again
    assert (await claim(client, li, right["id"])).status_code == 201


async def test_vouchers_expire_by_the_scheduler_and_cannot_be_redeemed(client, rt, users, admin):
    li = await users.make("li")
    await give_points(rt, li, 1_000)
    right = await make_right(client, rt, admin, voucher_valid_days=7)
    v = (await claim(client, li, right["id"])).json()
    await rt.advance_clock(7 * DAY)
    [job] = JOBS
    run = await JobRunner(rt, JOBS).run_job(job, force=True)
    assert run.outcome.value == "ran", run
    async with rt.sessionmaker() as db:
        stored = await db.get(Voucher, v["id"])
        assert stored is not None and stored.state == "expired"
    got = (await client.get("/v1/me/rights", params={"state": "expired"}, headers=li.headers)).json()
    assert [x["id"] for x in got["items"]] == [v["id"]]
    body = {"code": v["code"], "merchant_id": "m-1"}
    r = await client.post("/v1/merchant/vouchers/redeem", json=body, headers=service_headers(rt))
    assert r.status_code == 410 and error_code(r) == "expired"
    r = await client.post(f"/v1/me/rights/{v['id']}/refund", headers=li.headers)
    assert r.status_code == 410
    assert await balance(client, li) == 500  # expired: the points stay spent


async def test_access_is_refused_across_users_without_tokens_and_for_non_admins(client, rt, users, admin):
    li, wang = await users.make("li"), await users.make("wang")
    await give_points(rt, li, 1_000)
    right = await make_right(client, rt, admin)
    v = (await claim(client, li, right["id"])).json()
    for path in (f"/v1/me/rights/{v['id']}", v["qr_url"]):
        assert (await client.get(path, headers=wang.headers)).status_code == 404
        assert (await client.get(path)).status_code == 401
    assert (await client.post(f"/v1/me/rights/{v['id']}/refund", headers=wang.headers)).status_code == 404
    assert (await client.get("/v1/me/rights", headers=wang.headers)).json()["items"] == []
    body = {"code": v["code"], "merchant_id": "m-1"}
    for path in ("/v1/merchant/vouchers/verify", "/v1/merchant/vouchers/redeem"):
        assert (await client.post(path, json=body)).status_code == 401
        assert (await client.post(path, json=body, headers=li.headers)).status_code == 401
    assert (await client.post("/v1/admin/rights", json=right_body(rt), headers=li.headers)).status_code == 403
    r = await client.patch(f"/v1/admin/rights/{right['id']}", json={"status": "paused"}, headers=li.headers)
    assert r.status_code == 403
    assert (await client.get("/v1/rights")).status_code == 401
    assert (
        await client.post(f"/v1/rights/{right['id']}/claim", headers={"Idempotency-Key": "x"})
    ).status_code == 401


async def test_bad_input_is_a_4xx(client, rt, users, admin):
    li = await users.make("li")
    await give_points(rt, li, 100)
    right = await make_right(client, rt, admin)
    for over in (
        {"stock": -1},
        {"points_price": -5},
        {"stock": 10**12},
        {"tiers": ["bronze"]},
        {"kind": "Coffee!"},
        {"per_user_limit": 0},
        {"limit_period": "week"},
        {"available_until": rt.clock.now().isoformat(), "available_from": rt.clock.now().isoformat()},
        {"kind": "coupon", "points_price": None},  # no tier gets coupons free: it needs a price
    ):
        r = await client.post("/v1/admin/rights", json=right_body(rt, **over), headers=admin.headers)
        assert r.status_code == 422, (over, r.text)
    r = await client.patch(f"/v1/admin/rights/{right['id']}", json={"stock_total": -1}, headers=admin.headers)
    assert r.status_code == 422
    assert (await client.patch("/v1/admin/rights/nope", json={}, headers=admin.headers)).status_code == 404
    assert (await claim(client, li, "nope")).status_code == 404
    r = await client.post(f"/v1/rights/{right['id']}/claim", headers=li.headers)  # no Idempotency-Key
    assert r.status_code == 422
    r = await claim(client, li, right["id"])  # 100 points, price 500
    assert r.status_code == 409 and error_code(r) == "insufficient_funds"
    for code in ("short", "QZ-0000-0000-0000-000!", "x" * 41):
        body = {"code": code, "merchant_id": "m-1"}
        r = await client.post("/v1/merchant/vouchers/verify", json=body, headers=service_headers(rt))
        assert r.status_code in (404, 422), (code, r.text)
    body = {"code": "QZ-0000-0000-0000-0000", "merchant_id": "m-1"}
    r = await client.post("/v1/merchant/vouchers/redeem", json=body, headers=service_headers(rt))
    assert r.status_code == 404
    # paused: not in the catalogue, not claimable; the stock cannot drop below what was issued
    await give_points(rt, li, 1_000)
    assert (await claim(client, li, right["id"])).status_code == 201
    r = await client.patch(f"/v1/admin/rights/{right['id']}", json={"stock_total": 0}, headers=admin.headers)
    assert r.status_code == 409
    r = await client.patch(
        f"/v1/admin/rights/{right['id']}", json={"status": "paused", "stock_total": 5}, headers=admin.headers
    )
    assert r.status_code == 200 and r.json()["stock_left"] == 4
    assert (await client.get("/v1/rights", headers=li.headers)).json()["items"] == []
    listed = (await client.get("/v1/admin/rights", headers=admin.headers)).json()
    assert set(listed) == {"items", "next_cursor"}
    assert [(x["id"], x["status"]) for x in listed["items"]] == [(right["id"], "paused")]
    assert (await client.get("/v1/admin/rights", headers=li.headers)).status_code == 403
    r = await claim(client, li, right["id"])
    assert r.status_code == 409 and r.json()["error"]["details"]["reason"] == "not_available"


async def test_spent_points_are_in_the_ledger_and_lots(client, rt, users, admin):
    li = await users.make("li")
    await give_points(rt, li, 800)
    right = await make_right(client, rt, admin, points_price=800)
    assert (await claim(client, li, right["id"])).status_code == 201
    async with rt.sessionmaker() as db, transaction(db):
        assert await ledger.balance(db, ledger.points_account(li.id)) == 0
        assert await ledger.balance(db, ledger.POINTS_REDEEMED) == 800
