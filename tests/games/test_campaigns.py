"""Card-payment campaigns (用卡立减) through the public API: the switch's quote → capture →
refund (service token), members' list, admins' campaigns, budgets and one per cardholder."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.ledger import service as ledger
from games.campaigns import gate
from games.campaigns import service as campaigns
from games.campaigns.models import Campaign, CampaignPayment, CampaignUse
from tests.support.cards import service_headers
from tests.support.clock import BEFORE_BANK_MIDNIGHT, ONE_MINUTE
from tests.support.people import Person, error_code

_payments = itertools.count(1)


def card_of(p: Person) -> str:
    return f"card-{p.phone[1:]}"


def campaign_body(rt: Any, **over: Any) -> dict[str, Any]:
    now: datetime = rt.clock.now()
    body = {
        "name": "满100减10",
        "kind": "threshold",
        "min_amount_fen": 10_000,
        "discount_fen": 1_000,
        "total_budget_fen": 100_000,
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=30)).isoformat(),
    }
    return body | over


async def make_campaign(client: Any, rt: Any, admin: Person, **over: Any) -> dict[str, Any]:
    r = await client.post("/v1/admin/campaigns", json=campaign_body(rt, **over), headers=admin.headers)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "draft"
    r = await client.post(f"/v1/admin/campaigns/{r.json()['id']}/schedule", headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "scheduled" and r.json()["running"]
    return r.json()  # type: ignore[no-any-return]


def quote_body(
    p: Person, *, amount_fen: int = 12_000, payment_id: str | None = None, **over: Any
) -> dict[str, Any]:
    body = {
        "payment_id": payment_id or f"pay-{next(_payments)}",
        "user_id": p.id,
        "card_ref": card_of(p),
        "amount_fen": amount_fen,
        "mcc": "5411",
        "merchant_id": "tmall-001",
        "channel": "pos",
    }
    return body | over


async def quote(client: Any, rt: Any, p: Person, **kw: Any) -> dict[str, Any]:
    r = await client.post("/v1/payments/quote", json=quote_body(p, **kw), headers=service_headers(rt))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def capture(client: Any, rt: Any, payment_id: str) -> Any:
    return await client.post(f"/v1/payments/{payment_id}/capture", headers=service_headers(rt))


async def refund(client: Any, rt: Any, payment_id: str, refund_id: str, amount_fen: int | None = None) -> Any:
    body: dict[str, Any] = {"refund_id": refund_id}
    if amount_fen is not None:
        body["amount_fen"] = amount_fen
    return await client.post(f"/v1/payments/{payment_id}/refund", json=body, headers=service_headers(rt))


async def balance(rt: Any, account: str) -> int:
    async with rt.sessionmaker() as db:
        return await ledger.balance(db, account)


async def ledger_ok(rt: Any) -> None:
    async with rt.sessionmaker() as db:
        audit = await ledger.audit(db)
    assert audit.ok, audit


async def spent(rt: Any, campaign_id: str) -> int:
    async with rt.sessionmaker() as db:
        c = await db.get(Campaign, campaign_id)
        assert c is not None
        return c.spent_fen


async def redis_spent(rt: Any, campaign_id: str) -> int:
    return int(await rt.redis.hget(gate.state_key(rt, campaign_id), "spent") or 0)


@pytest.fixture
async def admin(users: Any) -> Person:
    return await users.make("admin", roles="admin,user")  # type: ignore[no-any-return]


async def test_a_threshold_discount_is_held_captured_once_and_booked(client, rt, users, admin):
    cp = await make_campaign(client, rt, admin)
    li = await users.make("li")
    small = await quote(client, rt, li, amount_fen=9_999)
    assert small["discount_fen"] == 0 and small["campaign_id"] is None and small["hold_expires_at"] is None
    q = await quote(client, rt, li, amount_fen=12_000)
    assert q["discount_fen"] == 1_000 and q["campaign_id"] == cp["id"]
    assert datetime.fromisoformat(q["hold_expires_at"]) == rt.clock.now() + timedelta(minutes=15)
    # the same payment quoted again: the same answer, no second hold
    again = await client.post(
        "/v1/payments/quote", json=quote_body(li, payment_id=q["payment_id"]), headers=service_headers(rt)
    )
    assert again.json() == q
    assert await spent(rt, cp["id"]) == 1_000
    # the same payment_id with another amount is a conflict
    other = quote_body(li, payment_id=q["payment_id"], amount_fen=50_000)
    r = await client.post("/v1/payments/quote", json=other, headers=service_headers(rt))
    assert r.status_code == 409

    r = await capture(client, rt, q["payment_id"])
    assert r.status_code == 200, r.text
    assert r.json() | {"captured_at": None} == {
        "payment_id": q["payment_id"],
        "state": "captured",
        "amount_fen": 12_000,
        "discount_fen": 1_000,
        "paid_fen": 11_000,
        "campaign_id": cp["id"],
        "captured_at": None,
    }
    assert (await capture(client, rt, q["payment_id"])).json() == r.json()  # once
    assert await balance(rt, campaigns.merchant_account("tmall-001")) == 1_000
    assert await balance(rt, campaigns.campaign_account(cp["id"])) == 100_000 - 1_000
    await ledger_ok(rt)
    # the spending event was raised once (an offline card payment ≥ ¥1: one energy ball)
    forest = (await client.get("/v1/forest", headers=li.headers)).json()
    assert len(forest["balls"]) == 1
    # the event is the bank's too: sending it again under the payment's id is a no-op
    ev = {
        "event_id": q["payment_id"],
        "user_id": li.id,
        "amount_fen": 11_000,
        "category": "offline_payment",
        "occurred_at": rt.clock.now().isoformat(),
    }
    r = await client.post("/v1/events/spending", json={"events": [ev]}, headers=service_headers(rt))
    assert r.json()["duplicates"] == 1
    notes = (await client.get("/v1/notifications", headers=li.headers)).json()["items"]
    applied = [n for n in notes if n["kind"] == "campaign_discount"]
    assert len(applied) == 1 and applied[0]["data"]["discount_fen"] == 1_000
    # a payment without a discount is captured too (its spending still counts)
    r = await capture(client, rt, small["payment_id"])
    assert r.json()["discount_fen"] == 0 and r.json()["paid_fen"] == 9_999


async def test_one_per_cardholder_per_campaign(client, rt, users, admin):
    cp = await make_campaign(client, rt, admin)
    li, wang = await users.make("li"), await users.make("wang")
    assert (await quote(client, rt, li))["discount_fen"] == 1_000
    assert (await quote(client, rt, li))["discount_fen"] == 0  # held for the first payment
    assert (await quote(client, rt, wang))["campaign_id"] == cp["id"]
    listed = (await client.get("/v1/campaigns", headers=li.headers)).json()["items"]
    assert [(c["id"], c["uses_left"], c["per"]) for c in listed] == [(cp["id"], 0, "campaign")]
    assert listed[0]["discount"] == {
        "kind": "threshold",
        "min_amount_fen": 10_000,
        "discount_fen": 1_000,
        "rate_bp": None,
        "cap_fen": None,
        "min_discount_fen": None,
        "max_discount_fen": None,
    }


@pytest.mark.clock_start(BEFORE_BANK_MIDNIGHT)
async def test_one_per_cardholder_per_bank_day(client, rt, users, admin):
    cp = await make_campaign(client, rt, admin, per="day", daily_budget_fen=5_000)
    li = await users.make("li")
    assert (await quote(client, rt, li))["discount_fen"] == 1_000
    assert (await quote(client, rt, li))["discount_fen"] == 0
    mine = (await client.get("/v1/campaigns", headers=li.headers)).json()["items"]
    assert mine[0]["uses_left"] == 0
    await rt.advance_clock(ONE_MINUTE)  # the bank's day turns (UTC's does not)
    assert (await client.get("/v1/campaigns", headers=li.headers)).json()["items"][0]["uses_left"] == 1
    assert (await quote(client, rt, li))["campaign_id"] == cp["id"]


async def test_daily_budget_then_next_day(client, rt, users, admin):
    cp = await make_campaign(client, rt, admin, daily_budget_fen=2_000)
    people = [await users.make(f"p{i}") for i in range(3)]
    got = [(await quote(client, rt, p))["discount_fen"] for p in people]
    assert got == [1_000, 1_000, 0]
    view = (await client.get(f"/v1/admin/campaigns/{cp['id']}", headers=admin.headers)).json()
    assert view["today_spent_fen"] == 2_000 and view["spent_fen"] == 2_000
    await rt.advance_clock(86_400)
    # a new business day, a new daily budget
    assert (await quote(client, rt, people[2]))["discount_fen"] == 1_000


async def test_the_best_eligible_discount_wins_and_limits_apply(client, rt, users, admin):
    threshold = await make_campaign(client, rt, admin)
    percent = await make_campaign(
        client, rt, admin, name="九五折", kind="percent", min_amount_fen=0, rate_bp=500, cap_fen=5_000
    )
    groceries_only = await make_campaign(
        client,
        rt,
        admin,
        name="超市随机立减",
        kind="random",
        min_amount_fen=0,
        min_discount_fen=1,
        max_discount_fen=100,
        mccs=["5411"],
        channels=["qr"],
    )
    platinum = await make_campaign(
        client,
        rt,
        admin,
        name="白金卡",
        discount_fen=8_000,
        min_amount_fen=50_000,
        card_products=["platinum"],
    )
    li = await users.make("li")
    # ¥120: 10 yuan off beats 5 % (6 yuan)
    assert (await quote(client, rt, li, amount_fen=12_000))["campaign_id"] == threshold["id"]
    # li's threshold use is held; ¥1000 at 5 %: 50 yuan (the cap)
    q = await quote(client, rt, li, amount_fen=100_000)
    assert (q["campaign_id"], q["discount_fen"]) == (percent["id"], 5_000)
    # the random one: only MCC 5411 over QR
    q = await quote(client, rt, li, amount_fen=500, mcc="5812", channel="qr")
    assert q["discount_fen"] == 0
    q = await quote(client, rt, li, amount_fen=500, channel="qr")
    assert q["campaign_id"] == groceries_only["id"] and 1 <= q["discount_fen"] <= 100
    # the platinum campaign needs a platinum card: the bank says which product a card is
    wang = await users.make("wang")
    r = await client.post(
        "/v1/bank/cards",
        json={"user_id": wang.id, "card_ref": "wang-platinum", "last4": "8888", "product": "platinum"},
        headers=service_headers(rt),
    )
    assert r.status_code == 201 and r.json()["product"] == "platinum"
    q = await quote(client, rt, wang, amount_fen=60_000)
    assert q["campaign_id"] == percent["id"]  # 5 % of ¥600: his other card is no platinum card
    q = await quote(client, rt, wang, amount_fen=60_000, card_ref="wang-platinum")
    assert (q["campaign_id"], q["discount_fen"]) == (platinum["id"], 8_000)
    listed = {c["id"] for c in (await client.get("/v1/campaigns", headers=wang.headers)).json()["items"]}
    assert platinum["id"] in listed
    listed = {c["id"] for c in (await client.get("/v1/campaigns", headers=li.headers)).json()["items"]}
    assert platinum["id"] not in listed


# Friday 27 November 2026, 11:30 in Asia/Shanghai (03:30 UTC)
@pytest.mark.clock_start(datetime.fromisoformat("2026-11-27T03:30:00+00:00"))
async def test_days_of_week_and_time_windows_are_the_banks(client, rt, users, admin):
    await make_campaign(
        client, rt, admin, days_of_week=[5], time_windows=[{"start": "11:00", "end": "12:00"}]
    )
    li, wang = await users.make("li"), await users.make("wang")
    assert (await quote(client, rt, li))["discount_fen"] == 1_000
    await rt.advance_clock(31 * 60)  # 12:01 local: out of the window
    assert (await quote(client, rt, wang))["discount_fen"] == 0
    await rt.advance_clock(7 * 86_400 - 2 * 60 * 60)  # next Friday 10:01
    assert (await quote(client, rt, wang))["discount_fen"] == 0
    await rt.advance_clock(60 * 60)  # 11:01
    assert (await quote(client, rt, wang))["discount_fen"] == 1_000


# In process on the in-process Redis, and on a three-master Redis Cluster (the gate's
# script and its rebuild keep a campaign's keys on one slot: ``{cp:<id>}``).
@pytest.mark.parametrize(
    "redis_kind",
    [
        pytest.param("memory", id="memory"),
        pytest.param("cluster", id="cluster", marks=[pytest.mark.real_backends, pytest.mark.redis_cluster]),
    ],
)
async def test_concurrent_quotes_grant_exactly_the_budget_and_once_per_cardholder(
    client, rt, users, admin, redis_kind
):
    n = 100
    cp = await make_campaign(client, rt, admin, total_budget_fen=n * 1_000)
    people = [await users.make(f"p{i}") for i in range(400)]
    bodies = [quote_body(p) for p in people for _ in range(5)]  # 2 000 quotes, 5 per cardholder

    async def one(body: dict[str, Any]) -> dict[str, Any]:
        r = await client.post("/v1/payments/quote", json=body, headers=service_headers(rt))
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    results: list[dict[str, Any]] = []
    for i in range(0, len(bodies), 250):
        results += await asyncio.gather(*(one(b) for b in bodies[i : i + 250]))
    granted = [(b["user_id"], r) for b, r in zip(bodies, results, strict=True) if r["discount_fen"]]
    assert len(granted) == n
    assert len({user for user, _ in granted}) == n  # nobody twice
    assert await spent(rt, cp["id"]) == n * 1_000 == await redis_spent(rt, cp["id"])
    async with rt.sessionmaker() as db:
        holds = await db.scalar(
            select(func.count()).select_from(CampaignPayment).where(CampaignPayment.campaign_id == cp["id"])
        )
        uses = await db.scalar(select(func.count()).select_from(CampaignUse))
    assert holds == uses == n
    # capture them all at once: exactly the budget is paid out
    await asyncio.gather(*(capture(client, rt, r["payment_id"]) for _, r in granted))
    assert await balance(rt, campaigns.campaign_account(cp["id"])) == 0
    assert await balance(rt, campaigns.merchant_account("tmall-001")) == n * 1_000
    report = (await client.get(f"/v1/admin/campaigns/{cp['id']}/report", headers=admin.headers)).json()
    assert report["payments"] == report["unique_cardholders"] == n
    assert report["discount_paid_fen"] == n * 1_000 and report["budget_remaining_fen"] == 0
    await ledger_ok(rt)


async def test_an_expired_hold_returns_to_the_budget_and_the_cardholder(client, rt, users, admin):
    cp = await make_campaign(client, rt, admin, total_budget_fen=1_000)
    li, wang = await users.make("li"), await users.make("wang")
    first = await quote(client, rt, li)
    assert first["discount_fen"] == 1_000
    assert (await quote(client, rt, wang))["discount_fen"] == 0  # the budget is held
    r = await client.post("/v1/dev/clock", json={"advance_s": 15 * 60 + 1}, headers=li.headers)  # + the jobs
    assert r.status_code == 200, r.text
    assert await spent(rt, cp["id"]) == 0 == await redis_spent(rt, cp["id"])
    r = await capture(client, rt, first["payment_id"])
    assert r.status_code == 410 and error_code(r) == "expired"
    # the budget and li's use are back
    assert (await quote(client, rt, li))["discount_fen"] == 1_000
    assert (await quote(client, rt, wang))["discount_fen"] == 0
    # a hold past its expiry, before the job ran, is not captured either
    await rt.advance_clock(15 * 60 + 1)
    mine = await quote(client, rt, wang)
    assert mine["discount_fen"] == 0  # li's lapsed hold is still counted until the job runs
    report = (await client.get(f"/v1/admin/campaigns/{cp['id']}/report", headers=admin.headers)).json()
    assert report["holds_expired"] == 1 and report["holds_open"] == 1


async def test_refunds_reverse_the_discount_once_and_restore_the_use(client, rt, users, admin):
    cp = await make_campaign(client, rt, admin)
    li = await users.make("li")
    q = await quote(client, rt, li, amount_fen=20_000)
    assert (await capture(client, rt, q["payment_id"])).status_code == 200
    r = await refund(client, rt, q["payment_id"], "r1", 5_000)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "refund_id": "r1",
        "payment_id": q["payment_id"],
        "amount_fen": 5_000,
        "discount_reversed_fen": 250,  # a quarter of the amount, a quarter of the discount
        "cardholder_refund_fen": 4_750,
        "use_restored": False,
        "state": "captured",
        "refunded_fen": 5_000,
    }
    assert (await refund(client, rt, q["payment_id"], "r1", 5_000)).json() == r.json()  # once
    assert (await refund(client, rt, q["payment_id"], "r1", 6_000)).status_code == 409
    assert (await refund(client, rt, q["payment_id"], "r2", 15_001)).status_code == 422
    assert await spent(rt, cp["id"]) == 750
    assert (await quote(client, rt, li))["discount_fen"] == 0  # the use is still taken
    r = await refund(client, rt, q["payment_id"], "r2")  # the rest
    assert r.json()["amount_fen"] == 15_000 and r.json()["discount_reversed_fen"] == 750
    assert r.json()["state"] == "refunded" and r.json()["use_restored"] is True
    assert (await refund(client, rt, q["payment_id"], "r3", 1)).status_code == 409
    assert await spent(rt, cp["id"]) == 0 == await redis_spent(rt, cp["id"])
    assert await balance(rt, campaigns.merchant_account("tmall-001")) == 0
    assert await balance(rt, campaigns.campaign_account(cp["id"])) == 100_000
    await ledger_ok(rt)
    assert (await quote(client, rt, li))["discount_fen"] == 1_000  # li may get it again


async def test_a_campaign_may_keep_the_use_after_a_refund(client, rt, users, admin):
    await make_campaign(client, rt, admin, restore_use_on_refund=False)
    li = await users.make("li")
    q = await quote(client, rt, li)
    await capture(client, rt, q["payment_id"])
    r = await refund(client, rt, q["payment_id"], "r1")
    assert r.json()["use_restored"] is False and r.json()["discount_reversed_fen"] == 1_000
    assert (await quote(client, rt, li))["discount_fen"] == 0
    assert (await refund(client, rt, "pay-none", "r2")).status_code == 404
    uncaptured = await quote(client, rt, li, amount_fen=500)
    assert (await refund(client, rt, uncaptured["payment_id"], "r3")).status_code == 409


async def test_concurrent_refunds_of_one_payment_reverse_it_once(client, rt, users, admin):
    cp = await make_campaign(client, rt, admin)
    li = await users.make("li")
    q = await quote(client, rt, li)
    await capture(client, rt, q["payment_id"])
    answers = await asyncio.gather(*(refund(client, rt, q["payment_id"], f"r{i}") for i in range(10)))
    assert sorted(r.status_code for r in answers) == [200] + [409] * 9
    same = await asyncio.gather(*(refund(client, rt, q["payment_id"], "r-same") for _ in range(5)))
    assert {r.status_code for r in same} == {409}  # refunded in full already
    assert await spent(rt, cp["id"]) == 0
    await ledger_ok(rt)


async def test_pause_schedule_and_end(client, rt, users, admin):
    cp = await make_campaign(client, rt, admin)
    li, wang, zhang = await users.make("li"), await users.make("wang"), await users.make("zhang")
    r = await client.post(f"/v1/admin/campaigns/{cp['id']}/pause", headers=admin.headers)
    assert r.json()["status"] == "paused" and not r.json()["running"]
    assert (await quote(client, rt, li))["discount_fen"] == 0
    assert (await client.get("/v1/campaigns", headers=li.headers)).json()["items"] == []
    assert (
        await client.post(f"/v1/admin/campaigns/{cp['id']}/pause", headers=admin.headers)
    ).status_code == 409
    r = await client.post(f"/v1/admin/campaigns/{cp['id']}/schedule", headers=admin.headers)
    assert r.json()["status"] == "scheduled"
    held = await quote(client, rt, wang)
    assert held["discount_fen"] == 1_000
    r = await client.post(f"/v1/admin/campaigns/{cp['id']}/end", headers=admin.headers)
    assert r.json()["status"] == "ended"
    assert (await quote(client, rt, zhang))["discount_fen"] == 0
    assert (await capture(client, rt, held["payment_id"])).status_code == 200  # held before the end
    assert (
        await client.post(f"/v1/admin/campaigns/{cp['id']}/end", headers=admin.headers)
    ).status_code == 409
    assert (
        await client.post(f"/v1/admin/campaigns/{cp['id']}/schedule", headers=admin.headers)
    ).status_code == 409
    listed = (await client.get("/v1/admin/campaigns?status=ended", headers=admin.headers)).json()
    assert [c["id"] for c in listed["items"]] == [cp["id"]]
    burn = (await client.get(f"/v1/admin/campaigns/{cp['id']}/burn?hours=3", headers=admin.headers)).json()
    assert len(burn["hours"]) == 3
    assert sum(h["held_fen"] for h in burn["hours"]) == 1_000 == sum(h["paid_fen"] for h in burn["hours"])
    assert sum(h["quotes"] for h in burn["hours"]) == 1


async def test_the_switch_routes_need_the_service_token_and_the_cardholders_card(client, rt, users, admin):
    await make_campaign(client, rt, admin)
    li, wang = await users.make("li"), await users.make("wang")
    body = quote_body(li)
    for headers in ({}, li.headers, admin.headers, {"Authorization": "Bearer not-the-token"}):
        r = await client.post("/v1/payments/quote", json=body, headers=headers)
        assert r.status_code == 401, headers
        assert (await client.post("/v1/payments/x/capture", headers=headers)).status_code == 401
        r = await client.post("/v1/payments/x/refund", json={"refund_id": "r"}, headers=headers)
        assert r.status_code == 401
    # wang's card for li: refused, as an unknown card is
    for card in (card_of(wang), "no-such-card"):
        r = await client.post(
            "/v1/payments/quote", json=quote_body(li, card_ref=card), headers=service_headers(rt)
        )
        assert r.status_code == 404 and error_code(r) == "not_found", card
    # members may not run campaigns
    r = await client.post("/v1/admin/campaigns", json=campaign_body(rt), headers=li.headers)
    assert r.status_code == 403
    assert (await client.get("/v1/admin/campaigns", headers=li.headers)).status_code == 403
    assert (await client.get("/v1/campaigns")).status_code == 401
    # a user who is no cardholder sees no campaign
    nobody = await users.make("nobody", cardholder=False)
    assert (await client.get("/v1/campaigns", headers=nobody.headers)).json()["items"] == []


async def test_bad_input_is_a_4xx_and_changes_nothing(client, rt, users, admin):
    cp = await make_campaign(client, rt, admin)
    li = await users.make("li")
    for bad in [
        {"amount_fen": -100},
        {"amount_fen": 0},
        {"amount_fen": 10**12},
        {"amount_fen": "12000"},
        {"amount_fen": 120.5},
        {"mcc": "0001"},  # not a merchant category
        {"mcc": "54111"},
        {"mcc": "abcd"},
        {"channel": "carrier_pigeon"},
        {"payment_id": "x" * 65},
        {"payment_id": "has space"},
        {"merchant_id": ""},
        {"user_id": ""},
    ]:
        r = await client.post("/v1/payments/quote", json=quote_body(li) | bad, headers=service_headers(rt))
        assert r.status_code == 422 and error_code(r) == "validation_error", bad
    r = await client.post(
        "/v1/payments/quote", json=quote_body(li, user_id="u_nobody"), headers=service_headers(rt)
    )
    assert r.status_code == 404
    assert (await capture(client, rt, "never-quoted")).status_code == 404
    assert (await capture(client, rt, "x" * 65)).status_code == 422
    q = await quote(client, rt, li)
    await capture(client, rt, q["payment_id"])
    for bad_refund in [{"refund_id": "r", "amount_fen": -1}, {"refund_id": "r", "amount_fen": 10**12}, {}]:
        r = await client.post(
            f"/v1/payments/{q['payment_id']}/refund", json=bad_refund, headers=service_headers(rt)
        )
        assert r.status_code == 422, bad_refund
    for bad_campaign in [
        {"discount_fen": 0},
        {"min_amount_fen": 500},  # a threshold below its discount
        {"ends_at": rt.clock.now().isoformat(), "starts_at": rt.clock.now().isoformat()},
        {"starts_at": "2026-11-25T10:00:00"},  # naive
        {"mccs": ["0001"]},
        {"kind": "percent"},  # no rate, no cap
        {"kind": "random", "min_discount_fen": 50, "max_discount_fen": 10},
        {"total_budget_fen": 500},  # one discount does not fit
        {"total_budget_fen": -1},
        {"days_of_week": [0]},
        {"time_windows": [{"start": "25:00", "end": "26:00"}]},
        {"channels": ["fax"]},
    ]:
        r = await client.post(
            "/v1/admin/campaigns", json=campaign_body(rt, **bad_campaign), headers=admin.headers
        )
        assert r.status_code == 422, bad_campaign
    assert (await client.get("/v1/admin/campaigns/nope", headers=admin.headers)).status_code == 404
    assert (
        await client.get(f"/v1/admin/campaigns/{cp['id']}/burn?hours=0", headers=admin.headers)
    ).status_code == 422
    assert await spent(rt, cp["id"]) == 1_000
    await ledger_ok(rt)


async def test_redis_is_rebuilt_from_postgresql(client, rt, users, admin):
    cp = await make_campaign(client, rt, admin, total_budget_fen=2_000)
    li, wang, zhang = await users.make("li"), await users.make("wang"), await users.make("zhang")
    assert (await quote(client, rt, li))["discount_fen"] == 1_000
    # Redis lost everything (a restart without persistence): the next quote rebuilds it
    await rt.redis.flushall()
    assert (await quote(client, rt, li))["discount_fen"] == 0  # li's use is remembered
    assert await redis_spent(rt, cp["id"]) == 1_000
    # a worker died between its Redis hold and its commit: Redis counts a hold that PostgreSQL never made
    await gate.hold(
        rt, campaign_id=cp["id"], user_id=wang.id, discount_fen=1_000, day="2026-11-25", use_key=""
    )
    assert (await quote(client, rt, zhang))["discount_fen"] == 0  # refused early, never over
    await campaigns.reconcile_all(rt)  # what a restarted worker does at start-up
    assert await redis_spent(rt, cp["id"]) == 1_000
    assert (await quote(client, rt, wang))["discount_fen"] == 1_000
    # Redis counting too little only sends the quote to PostgreSQL, which refuses it
    await rt.redis.hset(gate.state_key(rt, cp["id"]), "spent", 0)
    assert (await quote(client, rt, zhang))["discount_fen"] == 0
    assert await spent(rt, cp["id"]) == 2_000
