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
from tests.support.cards import service_headers
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


# -- the partner cancels an exchange later (service token) ----------------------------------


async def partner_cancel(client, rt, x_id, partner_ref="C-1", programme="hotel", headers=None, **body):
    return await client.post(
        f"/v1/partners/{programme}/exchanges/{x_id}/cancel",
        json={"partner_ref": partner_ref} | body,
        headers=service_headers(rt) if headers is None else headers,
    )


async def test_a_confirmed_exchange_cancelled_by_the_partner_returns_the_points_once(
    client, rt, users, partner
):
    li = await member(rt, client, users)
    x = (await exchange_out(client, li)).json()
    assert (await client.get(f"/v1/me/points/exchanges/{x['id']}", headers=li.headers)).json()[
        "status"
    ] == "confirmed"
    assert (await my_points(client, li))["balance"] == 3_000
    # twice at once, then once more: the points come back once, every answer the first
    rs = await asyncio.gather(*(partner_cancel(client, rt, x["id"], reason="wrong member") for _ in range(2)))
    assert [r.status_code for r in rs] == [200, 200], [r.text for r in rs]
    first = rs[0].json()
    assert rs[1].json() == first
    again = await partner_cancel(client, rt, x["id"], reason="wrong member")
    assert again.status_code == 200 and again.json() == first
    assert first["status"] == "cancelled" and first["cancelled_from"] == "confirmed"
    assert (first["points_returned"], first["points_released"], first["partner_ref"]) == (2_000, 0, "C-1")
    mine = await my_points(client, li)
    assert mine["balance"] == 5_000
    returned = next(lot for lot in mine["lots"] if lot["memo"].endswith("cancelled the exchange"))
    # a new lot with the expiry of points credited today: the end of next year
    assert returned["source"] == "partner" and returned["amount"] == 2_000
    assert returned["expires_at"] == first["lot_expires_at"] and returned["last_day"] == "2027-12-31"
    lines = (await client.get("/v1/me/points/statement", headers=li.headers)).json()["items"]
    assert [x["kind"] for x in lines][:1] == ["points_returned"]
    assert [x["kind"] for x in lines].count("points_returned") == 1
    got = (await client.get(f"/v1/me/points/exchanges/{x['id']}", headers=li.headers)).json()
    assert got["status"] == "cancelled" and got["cancelled_at"] is not None
    # returned points are not earned: the tier does not move
    assert (await client.get("/v1/me/tiers", headers=li.headers)).json()["rolling_points"] == 5_000
    # cancelled under another reference: a conflict, nothing moves
    r = await partner_cancel(client, rt, x["id"], partner_ref="C-2")
    assert r.status_code == 409 and r.json()["error"]["details"]["reason"] == "already_cancelled"
    async with rt.sessionmaker() as db:
        assert await ledger.balance(db, ledger.POINTS_PARTNERS) == 0
    assert [n.data["status"] for n in await notifications(rt, li.id, "points_exchange")] == [
        "confirmed",
        "cancelled",
    ]
    await audit_ok(rt)
    await lots_consistent(rt)


async def test_a_pending_exchange_cancelled_by_the_partner_is_released_and_never_sent_again(
    client, rt, users, partner
):
    li = await member(rt, client, users)
    before = (await my_points(client, li))["lots"]
    partner.script = ["fail"]
    x = (await exchange_out(client, li)).json()
    assert (await my_points(client, li))["pending_out"] == 2_000
    r = await partner_cancel(client, rt, x["id"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["cancelled_from"], body["points_released"], body["points_returned"]) == ("pending", 2_000, 0)
    assert body["lot_expires_at"] is None
    mine = await my_points(client, li)
    assert mine["lots"] == before and mine["pending_out"] == 0  # the very lots, their expiry
    calls = len(partner.calls)
    await rt.advance_clock(3_600)
    assert await exchange.deliver_due(rt) == 0 and len(partner.calls) == calls
    # a late answer from an earlier try changes nothing
    assert not await exchange.settle(rt, exchange_id=x["id"], answer=Answer("confirmed", "P-late"))
    assert (await my_points(client, li))["balance"] == 5_000
    # a cancelled exchange does not count against the day's cap
    assert (await exchange_out(client, li, pts=5_000)).status_code == 202
    await audit_ok(rt)
    await lots_consistent(rt)


async def test_what_a_partner_cannot_cancel(client, rt, users, partner):
    li = await member(rt, client, users, pts=20_000)
    partner.script = ["refuse"]
    refused = (await exchange_out(client, li)).json()
    cases = [
        (refused["id"], "hotel", 409, "conflict"),
        ("px_nope", "hotel", 404, "not_found"),
    ]
    confirmed = (await exchange_out(client, li)).json()
    cases.append((confirmed["id"], "airline", 404, "not_found"))  # another programme's id
    inbound = await client.post(
        "/v1/me/points/exchanges",
        json={"programme_id": "hotel", "direction": "in", "points": 8_000},
        headers=idem(li),
    )
    cases.append((inbound.json()["id"], "hotel", 409, "conflict"))  # confirmed inbound
    for x_id, programme, status, code in cases:
        r = await partner_cancel(client, rt, x_id, programme=programme)
        assert r.status_code == status and error_code(r) == code, (x_id, r.text)
    r = await partner_cancel(client, rt, refused["id"])
    assert r.json()["error"]["details"]["reason"] == "refused"
    # bad input is a 422, no token or a member's token a 401
    for body in ({"partner_ref": ""}, {"partner_ref": "a b"}, {"partner_ref": "C", "extra": 1}, {}):
        r = await client.post(
            f"/v1/partners/hotel/exchanges/{confirmed['id']}/cancel",
            json=body,
            headers=service_headers(rt),
        )
        assert r.status_code == 422, (body, r.text)
    assert (await partner_cancel(client, rt, confirmed["id"], headers={})).status_code == 401
    assert (await partner_cancel(client, rt, confirmed["id"], headers=li.headers)).status_code == 401
    assert (await client.get(f"/v1/me/points/exchanges/{confirmed['id']}", headers=li.headers)).json()[
        "status"
    ] == "confirmed"
    await audit_ok(rt)
    await lots_consistent(rt)


async def test_a_pending_inbound_exchange_cancelled_by_the_partner_just_ends(client, rt, users, partner):
    li = await member(rt, client, users, pts=1)
    partner.script = ["fail"]
    r = await client.post(
        "/v1/me/points/exchanges",
        json={"programme_id": "hotel", "direction": "in", "points": 8_000},
        headers=idem(li),
    )
    x = r.json()
    r = await partner_cancel(client, rt, x["id"])
    assert r.status_code == 200 and (r.json()["points_returned"], r.json()["points_released"]) == (0, 0)
    await rt.advance_clock(3_600)
    assert await exchange.deliver_due(rt) == 0
    assert (await my_points(client, li))["balance"] == 1
    await audit_ok(rt)


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


async def test_a_cancellation_after_the_member_erased_their_account_is_forfeited(client, rt, users, partner):
    li = await member(rt, client, users)
    x = (await exchange_out(client, li)).json()  # confirmed at once
    assert (await client.delete("/v1/me", headers=li.headers)).status_code == 204
    async with rt.sessionmaker() as db:
        expired_before = await ledger.balance(db, ledger.POINTS_EXPIRED)
    r = await partner_cancel(client, rt, x["id"], reason="wrong member")
    assert r.status_code == 200 and r.json()["points_returned"] == 2_000
    async with rt.sessionmaker() as db:
        assert await ledger.balance(db, ledger.points_account(li.id)) == 0
        assert await ledger.balance(db, ledger.POINTS_EXPIRED) == expired_before + 2_000
    assert await notifications(rt, li.id) == []
    await audit_ok(rt)
    await lots_consistent(rt)
