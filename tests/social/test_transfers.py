"""Transfers through the API: escrow, accept, decline, limits, privacy, idempotency."""

from __future__ import annotations

from datetime import datetime, timedelta

import anyio
import pytest
from sqlalchemy import func, select

from app.ledger import service as ledger
from social.transfers.models import Transfer
from social.transfers.service import escrow_of
from tests.social.money_support import audit_ok, balance, block, idem, make_group, messages, notifications
from tests.support.clock import BEFORE_BANK_MIDNIGHT, ONE_MINUTE
from tests.support.people import error_code


@pytest.fixture
async def pair(users):
    alice = await users.make("alice", balance_fen=300_000)
    bob = await users.make("bob")
    await users.friends(alice, bob)
    return alice, bob


async def send(client, sender, to, amount=1_000, **extra):
    return await client.post(
        "/v1/transfers", json={"to_user_id": to.id, "amount_fen": amount, **extra}, headers=idem(sender)
    )


async def test_transfer_moves_money_into_escrow_and_appears_in_chat(client, rt, users, pair):
    alice, bob = pair
    r = await send(client, alice, bob, 1_234, note="lunch")
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["status"] == "pending"
    assert t["amount_fen"] == 1_234 and t["from_user_id"] == alice.id and t["to_user_id"] == bob.id
    expires = datetime.fromisoformat(t["expires_at"])
    assert expires - datetime.fromisoformat(t["created_at"]) == timedelta(seconds=rt.settings.pending_ttl_s)
    assert await users.balance(alice) == 300_000 - 1_234
    assert await users.balance(bob) == 0
    assert await balance(rt, escrow_of(t["id"])) == 1_234
    [msg] = await messages(rt, t["conversation_id"])
    assert msg.kind == "transfer" and msg.sender_id == alice.id
    assert msg.body["transfer_id"] == t["id"] and msg.body["status"] == "pending"
    [n] = await notifications(rt, bob.id, "transfer_received")
    assert n.data["transfer_id"] == t["id"] and n.data["amount_fen"] == 1_234
    got = await client.get(f"/v1/transfers/{t['id']}", headers=bob.headers)
    assert got.status_code == 200 and got.json() == t
    assert await audit_ok(rt)


async def test_accept_pays_the_receiver_once(client, rt, users, pair):
    alice, bob = pair
    t = (await send(client, alice, bob, 500)).json()
    r = await client.post(f"/v1/transfers/{t['id']}/accept", headers=idem(bob))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted" and r.json()["resolved_at"]
    assert await users.balance(bob) == 500
    assert await balance(rt, escrow_of(t["id"])) == 0
    again = await client.post(f"/v1/transfers/{t['id']}/accept", headers=idem(bob))
    assert again.status_code == 409 and error_code(again) == "conflict"
    decline = await client.post(f"/v1/transfers/{t['id']}/decline", headers=idem(bob))
    assert decline.status_code == 409 and error_code(decline) == "conflict"
    assert await users.balance(bob) == 500
    assert await users.balance(alice) == 300_000 - 500
    kinds = [(m.kind, m.sender_id, m.body["status"]) for m in await messages(rt, t["conversation_id"])]
    assert kinds == [("transfer", alice.id, "pending"), ("transfer", bob.id, "accepted")]
    assert len(await notifications(rt, alice.id, "transfer_accepted")) == 1
    assert await audit_ok(rt)


async def test_decline_refunds_the_sender(client, rt, users, pair):
    alice, bob = pair
    t = (await send(client, alice, bob, 700)).json()
    r = await client.post(f"/v1/transfers/{t['id']}/decline", headers=idem(bob))
    assert r.status_code == 200 and r.json()["status"] == "declined"
    assert await users.balance(alice) == 300_000
    assert await users.balance(bob) == 0
    last = (await messages(rt, t["conversation_id"]))[-1]
    assert last.kind == "system" and last.body["event"] == "transfer_declined"
    [n] = await notifications(rt, alice.id, "transfer_refunded")
    assert n.data == {"transfer_id": t["id"], "amount_fen": 700, "reason": "declined"}
    accept = await client.post(f"/v1/transfers/{t['id']}/accept", headers=idem(bob))
    assert accept.status_code == 409
    assert await audit_ok(rt)


async def test_only_friends_can_receive_transfers(client, users, pair):
    alice, _ = pair
    stranger = await users.make("stranger")
    r = await send(client, alice, stranger)
    assert r.status_code == 403 and error_code(r) == "forbidden"
    assert await users.balance(alice) == 300_000


async def test_a_block_stops_transfers_either_way(client, rt, users, pair):
    alice, bob = pair
    await block(rt, bob, alice)
    r = await send(client, alice, bob)
    assert r.status_code == 403 and error_code(r) == "forbidden"
    assert await users.balance(alice) == 300_000


async def test_transfer_to_myself_or_to_nobody_is_refused(client, users, pair):
    alice, _ = pair
    r = await send(client, alice, alice)
    assert r.status_code == 422 and error_code(r) == "validation_error"
    r = await client.post(
        "/v1/transfers", json={"to_user_id": "u_nobody", "amount_fen": 100}, headers=idem(alice)
    )
    assert r.status_code == 403
    assert await users.balance(alice) == 300_000


@pytest.mark.parametrize(
    "body",
    [
        {"amount_fen": 0},
        {"amount_fen": -1},
        {"amount_fen": 1.5},
        {"amount_fen": "100"},
        {"amount_fen": None},
        {"amount_fen": 100, "note": "x" * 101},
        {"amount_fen": 100, "extra": 1},
        {"amount_fen": 100, "to_user_id": ""},
    ],
)
async def test_bad_transfer_bodies_are_422(client, users, pair, body):
    alice, bob = pair
    r = await client.post("/v1/transfers", json={"to_user_id": bob.id, **body}, headers=idem(alice))
    assert r.status_code == 422 and error_code(r) == "validation_error"
    assert await users.balance(alice) == 300_000


async def test_not_enough_money_is_insufficient_funds_and_changes_nothing(client, rt, users):
    poor = await users.make("poor", balance_fen=99)
    bob = await users.make("bob")
    await users.friends(poor, bob)
    r = await send(client, poor, bob, 100)
    assert r.status_code == 409 and error_code(r) == "insufficient_funds"
    assert await users.balance(poor) == 99
    async with rt.sessionmaker() as db:
        assert await db.scalar(select(func.count()).select_from(Transfer)) == 0
    # The failed attempt did not count against the daily limit either.
    await client.post(
        "/v1/wallet/topup", json={"amount_fen": 200_000}, headers={**poor.headers, "Idempotency-Key": "t"}
    )
    for _ in range(4):
        assert (await send(client, poor, bob, 50_000)).status_code == 201


async def test_per_transfer_limit(client, rt, users, pair):
    alice, bob = pair
    r = await send(client, alice, bob, rt.settings.transfer_max_fen + 1)
    assert r.status_code == 409 and error_code(r) == "limit_exceeded"
    assert (await send(client, alice, bob, rt.settings.transfer_max_fen)).status_code == 201


@pytest.mark.clock_start(BEFORE_BANK_MIDNIGHT)
async def test_daily_limit_per_business_day(client, rt, users, pair):
    alice, bob = pair
    assert rt.settings.outgoing_daily_max_fen == 4 * rt.settings.transfer_max_fen
    for _ in range(4):
        assert (await send(client, alice, bob, 50_000)).status_code == 201
    r = await send(client, alice, bob, 1)
    assert r.status_code == 409 and error_code(r) == "limit_exceeded"
    rt.clock.advance(ONE_MINUTE)  # 00:00 in Asia/Shanghai: the next business day (not in UTC)
    await client.post(
        "/v1/wallet/topup", json={"amount_fen": 1}, headers={**alice.headers, "Idempotency-Key": "top"}
    )
    assert (await send(client, alice, bob, 1)).status_code == 201


async def test_idempotent_create_replays_and_moves_money_once(client, rt, users, pair):
    alice, bob = pair
    h = idem(alice, "same")
    body = {"to_user_id": bob.id, "amount_fen": 800}
    first = await client.post("/v1/transfers", json=body, headers=h)
    again = await client.post("/v1/transfers", json=body, headers=h)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert await users.balance(alice) == 300_000 - 800
    other = await client.post("/v1/transfers", json={**body, "amount_fen": 801}, headers=h)
    assert other.status_code == 409 and error_code(other) == "conflict"
    no_key = await client.post("/v1/transfers", json=body, headers=alice.headers)
    assert no_key.status_code == 422
    t = first.json()["id"]
    a1 = await client.post(f"/v1/transfers/{t}/accept", headers=idem(bob, "acc"))
    a2 = await client.post(f"/v1/transfers/{t}/accept", headers=idem(bob, "acc"))
    assert a1.status_code == a2.status_code == 200 and a1.json() == a2.json()
    assert await users.balance(bob) == 800


async def test_transfer_in_a_group_conversation(client, rt, users, pair):
    alice, bob = pair
    carol = await users.make("carol")
    group = await make_group(rt, [alice, bob, carol])
    t = (await send(client, alice, bob, 300, conversation_id=group)).json()
    assert t["conversation_id"] == group
    assert [m.kind for m in await messages(rt, group)] == ["transfer"]
    outsider_group = await make_group(rt, [bob, carol])
    r = await send(client, alice, bob, 300, conversation_id=outsider_group)
    assert r.status_code == 404
    no_bob = await make_group(rt, [alice, carol])
    r = await send(client, alice, bob, 300, conversation_id=no_bob)
    assert r.status_code == 422
    assert await users.balance(alice) == 300_000 - 300


async def test_only_the_receiver_settles_and_only_parties_see(client, rt, users, pair):
    alice, bob = pair
    mallory = await users.make("mallory", balance_fen=10)
    t = (await send(client, alice, bob, 900)).json()
    tid = t["id"]
    r = await client.post(f"/v1/transfers/{tid}/accept", headers=idem(alice))
    assert r.status_code == 403 and error_code(r) == "forbidden"
    r = await client.post(f"/v1/transfers/{tid}/decline", headers=idem(alice))
    assert r.status_code == 403
    for path in (f"/v1/transfers/{tid}/accept", f"/v1/transfers/{tid}/decline"):
        r = await client.post(path, headers=idem(mallory))
        assert r.status_code == 404 and error_code(r) == "not_found"
        assert "amount_fen" not in r.text
        assert (await client.post(path, headers={"Idempotency-Key": "x"})).status_code == 401
    r = await client.get(f"/v1/transfers/{tid}", headers=mallory.headers)
    assert r.status_code == 404 and "amount_fen" not in r.text
    assert (await client.get(f"/v1/transfers/{tid}")).status_code == 401
    assert (
        await client.post("/v1/transfers", json={"to_user_id": bob.id, "amount_fen": 1})
    ).status_code == 401
    assert (await client.get("/v1/transfers/tr_missing", headers=alice.headers)).status_code == 404
    assert (await client.get(f"/v1/transfers/{'x' * 41}", headers=alice.headers)).status_code == 422
    got = await client.get(f"/v1/transfers/{tid}", headers=alice.headers)
    assert got.json()["status"] == "pending"
    assert await users.balance(mallory) == 10
    assert await balance(rt, escrow_of(tid)) == 900
    async with rt.sessionmaker() as db:
        assert await ledger.balance(db, ledger.wallet_account(bob.id)) == 0


async def test_two_first_transfers_at_once_share_one_direct_chat(client, rt, users):
    alice = await users.make("alice", balance_fen=10_000)
    bob = await users.make("bob", balance_fen=10_000)
    await users.friends(alice, bob)
    got: list = []

    async def one(sender, to):
        got.append(await send(client, sender, to, 100))

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(one, alice, bob)
            tg.start_soon(one, bob, alice)
    assert [r.status_code for r in got] == [201] * 6
    assert len({r.json()["conversation_id"] for r in got}) == 1
    assert len(await messages(rt, got[0].json()["conversation_id"])) == 6
