"""Partner exchanges against a local fake partner that confirms, times out, fails,
refuses and answers twice: held points are never lost and never doubled."""

from __future__ import annotations

import asyncio

import pytest

from app.ledger import service as ledger
from games.points import exchange
from games.points import service as points
from games.points.partners import Answer
from tests.games.test_points import audit_ok, lots_consistent, my_points
from tests.social.money_support import idem, notifications
from tests.support.fake_partner import fake_partner
from tests.support.people import error_code


@pytest.fixture
async def partner(rt):
    async with fake_partner() as p:
        rt.settings = rt.settings.model_copy(
            update={"points_partner_urls": {"hotel": p.url}, "points_partner_timeout_s": 0.3}
        )
        p.slow_s = 1.0
        yield p


async def member(rt, client, users, name="li", pts=5_000, connected=True):
    person = await users.make(name)
    async with rt.sessionmaker() as db:
        await points.grant(db, rt, user_id=person.id, points=pts, ref="seed", memo="seed")
    r = await client.put("/v1/me/partners/hotel", json={"member_no": "HW-42"}, headers=person.headers)
    assert r.status_code == 200 and r.json()["member_no"] == "HW-42"
    assert r.json()["connected"] is connected
    return person


async def exchange_out(client, person, pts=2_000, key=None):
    return await client.post(
        "/v1/me/points/exchanges",
        json={"programme_id": "hotel", "direction": "out", "points": pts},
        headers=idem(person, key),
    )


async def test_an_outbound_exchange_is_held_then_confirmed_once(client, rt, users, partner):
    li = await member(rt, client, users)
    r = await exchange_out(client, li, key="x1")
    assert r.status_code == 202, r.text
    x = r.json()
    assert x["status"] == "pending" and x["partner_amount"] == 200  # 1 000 → 100 hotel points
    got = (await client.get(f"/v1/me/points/exchanges/{x['id']}", headers=li.headers)).json()
    assert got["status"] == "confirmed" and got["partner_ref"] == f"P-{x['id']}"
    assert partner.booked == {x["id"]: 200}
    again = await exchange_out(client, li, key="x1")
    assert again.json() == x and again.headers["Idempotent-Replayed"] == "true"
    assert len(partner.calls) == 1
    mine = await my_points(client, li)
    assert mine["balance"] == 3_000 and mine["pending_out"] == 0
    async with rt.sessionmaker() as db:
        assert await ledger.balance(db, ledger.POINTS_PARTNERS) == 2_000
        assert await ledger.balance(db, exchange.hold_account(x["id"])) == 0
    [n] = await notifications(rt, li.id, "points_exchange")
    assert n.data["status"] == "confirmed"
    await audit_ok(rt)
    await lots_consistent(rt)


async def test_a_timeout_keeps_the_points_held_and_the_retry_gets_the_answer_twice(
    client, rt, users, partner
):
    li = await member(rt, client, users)
    partner.script = ["slow"]  # the partner books it but answers after our timeout
    x = (await exchange_out(client, li)).json()
    got = (await client.get(f"/v1/me/points/exchanges/{x['id']}", headers=li.headers)).json()
    assert got["status"] == "pending" and got["attempts"] == 1
    mine = await my_points(client, li)
    assert mine["balance"] == 3_000 and mine["pending_out"] == 2_000  # held, not lost
    assert await exchange.deliver_due(rt) == 0  # not due before a minute
    await rt.advance_clock(61)
    # two workers retry at once: the partner answers the same key twice, we settle once
    await asyncio.gather(exchange.deliver_due(rt), exchange.deliver(rt, exchange_id=x["id"]))
    got = (await client.get(f"/v1/me/points/exchanges/{x['id']}", headers=li.headers)).json()
    assert got["status"] == "confirmed"
    assert {c["key"] for c in partner.calls} == {x["id"]} and len(partner.calls) >= 2
    assert partner.booked == {x["id"]: 200}
    # a late duplicate answer changes nothing
    assert not await exchange.settle(rt, exchange_id=x["id"], answer=Answer("confirmed", "P-dup"))
    assert not await exchange.settle(rt, exchange_id=x["id"], answer=Answer("refused", reason="late"))
    mine = await my_points(client, li)
    assert mine["balance"] == 3_000 and mine["pending_out"] == 0
    async with rt.sessionmaker() as db:
        assert await ledger.balance(db, ledger.POINTS_PARTNERS) == 2_000
    assert len(await notifications(rt, li.id, "points_exchange")) == 1
    await audit_ok(rt)
    await lots_consistent(rt)


async def test_failures_are_retried_and_a_refusal_returns_the_points_to_their_lots(
    client, rt, users, partner
):
    li = await member(rt, client, users)
    before = (await my_points(client, li))["lots"]
    partner.script = ["fail", "fail", "refuse"]
    x = (await exchange_out(client, li)).json()
    await rt.advance_clock(61)
    await exchange.deliver_due(rt)
    got = (await client.get(f"/v1/me/points/exchanges/{x['id']}", headers=li.headers)).json()
    assert got["status"] == "pending" and got["attempts"] == 2
    await rt.advance_clock(61)
    assert await exchange.deliver_due(rt) == 0  # the second wait is two minutes
    await rt.advance_clock(60)
    await exchange.deliver_due(rt)
    got = (await client.get(f"/v1/me/points/exchanges/{x['id']}", headers=li.headers)).json()
    assert got["status"] == "refused" and got["reason"] == "unknown_member"
    mine = await my_points(client, li)
    assert mine["lots"] == before and mine["pending_out"] == 0  # same lots, same expiry
    assert partner.booked == {}
    await audit_ok(rt)
    await lots_consistent(rt)


async def test_an_inbound_exchange_credits_a_lot_that_does_not_count_for_tiers(client, rt, users, partner):
    li = await member(rt, client, users, pts=1)
    r = await client.post(
        "/v1/me/points/exchanges",
        json={"programme_id": "hotel", "direction": "in", "points": 8_000},
        headers=idem(li),
    )
    assert r.status_code == 202 and r.json()["partner_amount"] == 1_000  # 100 hotel → 800 ours
    assert partner.booked == {r.json()["id"]: 1_000}
    mine = await my_points(client, li)
    assert mine["balance"] == 8_001 and {x["source"] for x in mine["lots"]} == {"partner", "adjustment"}
    t = (await client.get("/v1/me/tiers", headers=li.headers)).json()
    assert t["rolling_points"] == 1 and t["tier"]["id"] == "standard"
    await audit_ok(rt)


async def test_bad_exchanges_are_refused_and_change_nothing(client, rt, users, partner):
    li = await member(rt, client, users, pts=60_000)
    wang = await users.make("wang")
    cases = [
        ({"programme_id": "hotel", "direction": "out", "points": 999}, 422, "validation_error"),
        ({"programme_id": "hotel", "direction": "out", "points": 1_500}, 422, "validation_error"),
        ({"programme_id": "hotel", "direction": "out", "points": -1_000}, 422, "validation_error"),
        ({"programme_id": "hotel", "direction": "out", "points": 10**30}, 422, "validation_error"),
        ({"programme_id": "hotel", "direction": "sideways", "points": 1_000}, 422, "validation_error"),
        ({"programme_id": "nope", "direction": "out", "points": 1_000}, 404, "not_found"),
        ({"programme_id": "airline", "direction": "out", "points": 1_500}, 409, "conflict"),  # not linked
        ({"programme_id": "hotel", "direction": "out", "points": 51_000}, 409, "limit_exceeded"),  # daily cap
    ]
    for body, status, code in cases:
        r = await client.post("/v1/me/points/exchanges", json=body, headers=idem(li))
        assert r.status_code == status and error_code(r) == code, (body, r.text)
    r = await client.post(
        "/v1/me/points/exchanges",
        json={"programme_id": "hotel", "direction": "out", "points": 1_000},
        headers=li.headers,
    )
    assert r.status_code == 422  # no Idempotency-Key
    await client.put("/v1/me/partners/hotel", json={"member_no": "W-1"}, headers=wang.headers)
    r = await exchange_out(client, wang, pts=1_000)
    assert r.status_code == 409 and error_code(r) == "insufficient_funds"
    # the day's cap counts what was exchanged before
    assert (await exchange_out(client, li, pts=50_000)).status_code == 202
    r = await exchange_out(client, li, pts=1_000)
    assert r.status_code == 409 and r.json()["error"]["details"]["limit"] == "exchange_daily"
    x = (await client.get("/v1/me/points/exchanges", headers=li.headers)).json()["items"][0]
    assert (await client.get(f"/v1/me/points/exchanges/{x['id']}", headers=wang.headers)).status_code == 404
    assert (await client.get(f"/v1/me/points/exchanges/{x['id']}")).status_code == 401
    assert (
        await client.put("/v1/me/partners/nope", json={"member_no": "1"}, headers=li.headers)
    ).status_code == 404
    assert partner.booked == {x["id"]: 5_000}
    await audit_ok(rt)
    await lots_consistent(rt)


async def test_an_unconnected_programme_refuses_up_front(client, rt, users):
    li = await member(rt, client, users, connected=False)
    r = await exchange_out(client, li)
    assert r.status_code == 409 and r.json()["error"]["details"]["reason"] == "not_connected"
    assert (await my_points(client, li))["balance"] == 5_000


async def test_concurrent_exchanges_never_hold_more_than_the_balance(client, rt, users, partner):
    li = await member(rt, client, users, pts=5_000)
    partner.script = ["fail"] * 20
    rs = await asyncio.gather(*(exchange_out(client, li, pts=1_000) for _ in range(8)))
    assert sorted(r.status_code for r in rs) == [202] * 5 + [409] * 3
    mine = await my_points(client, li)
    assert mine["balance"] == 0 and mine["pending_out"] == 5_000
    await audit_ok(rt)
    await lots_consistent(rt)


async def test_a_refusal_after_the_member_erased_their_account_is_forfeited_not_restored(
    client, rt, users, partner
):
    li = await member(rt, client, users)
    partner.script = ["fail", "refuse"]
    x = (await exchange_out(client, li)).json()
    assert (await my_points(client, li))["pending_out"] == 2_000
    async with rt.sessionmaker() as db:
        expired_before = await ledger.balance(db, ledger.POINTS_EXPIRED)
    assert (await client.delete("/v1/me", headers=li.headers)).status_code == 204
    async with rt.sessionmaker() as db:  # the 3 000 live points were forfeited at erasure
        assert await ledger.balance(db, ledger.POINTS_EXPIRED) == expired_before + 3_000
    await rt.advance_clock(61)
    await exchange.deliver_due(rt)  # the partner refuses: the hold comes back, and goes
    async with rt.sessionmaker() as db:
        assert await ledger.balance(db, ledger.points_account(li.id)) == 0
        assert await ledger.balance(db, exchange.hold_account(x["id"])) == 0
        assert await ledger.balance(db, ledger.POINTS_EXPIRED) == expired_before + 5_000
    assert await notifications(rt, li.id) == []
    await audit_ok(rt)
    await lots_consistent(rt)
