"""One set of money rules for every money feature (issue 12 items 2 and 3): one daily
outgoing limit across transfers and red packets, and one rule for who may send whom
money (``friends.may_send_money``), through the public API."""

from __future__ import annotations

import pytest

from tests.social.money_support import audit_ok, idem, make_group
from tests.support.clock import BEFORE_BANK_MIDNIGHT, ONE_MINUTE
from tests.support.people import error_code


async def transfer(client, sender, to, amount=1_000):
    return await client.post(
        "/v1/transfers", json={"to_user_id": to.id, "amount_fen": amount}, headers=idem(sender)
    )


async def packet(client, sender, conv, total=1_000, count=1, mode="random", **extra):
    return await client.post(
        "/v1/red-packets",
        json={"conversation_id": conv, "total_fen": total, "count": count, "mode": mode, **extra},
        headers=idem(sender),
    )


async def grab(client, person, packet_id):
    return await client.post(f"/v1/red-packets/{packet_id}/grab", headers=idem(person))


@pytest.fixture
async def friends(users):
    alice = await users.make("alice", balance_fen=500_000)
    bob = await users.make("bob", balance_fen=100_000)
    await users.friends(alice, bob)
    return alice, bob


async def direct_chat(client, a, b) -> str:
    r = await client.post("/v1/conversations", json={"member_ids": [b.id]}, headers=a.headers)
    assert r.status_code in (200, 201), r.text
    return str(r.json()["id"])


# --- item 2: one daily outgoing limit -----------------------------------------------------


@pytest.mark.clock_start(BEFORE_BANK_MIDNIGHT)
async def test_red_packets_count_against_the_transfers_daily_limit(client, rt, users, friends):
    alice, bob = friends
    conv = await direct_chat(client, alice, bob)
    assert rt.settings.outgoing_daily_max_fen == 200_000
    for _ in range(4):
        assert (await transfer(client, alice, bob, 50_000)).status_code == 201
    over_by_transfer = await transfer(client, alice, bob, 1)
    assert over_by_transfer.status_code == 409 and error_code(over_by_transfer) == "limit_exceeded"
    r = await packet(client, alice, conv, 20_000)
    assert r.status_code == 409 and error_code(r) == error_code(over_by_transfer) == "limit_exceeded"
    assert r.json()["error"]["details"]["limit"] == "outgoing_daily"
    assert await users.balance(alice) == 500_000 - 200_000
    await rt.advance_clock(ONE_MINUTE)  # 00:00 in Asia/Shanghai: the next business day
    assert (await packet(client, alice, conv, 20_000)).status_code == 201
    assert await audit_ok(rt)


@pytest.mark.clock_start(BEFORE_BANK_MIDNIGHT)
async def test_group_red_packets_then_transfers_share_one_total(client, rt, users, friends):
    alice, bob = friends
    carol = await users.make("carol")
    group = await make_group(rt, [alice, bob, carol])
    for _ in range(10):
        assert (await packet(client, alice, group, 20_000, 2)).status_code == 201
    r = await transfer(client, alice, bob, 1)
    assert r.status_code == 409 and error_code(r) == "limit_exceeded"
    r = await packet(client, alice, group, 2, 2)
    assert r.status_code == 409 and error_code(r) == "limit_exceeded"
    # A refused payment moved nothing; the next business day starts from zero.
    assert await users.balance(alice) == 500_000 - 200_000
    await rt.advance_clock(ONE_MINUTE)
    assert (await transfer(client, alice, bob, 50_000)).status_code == 201
    assert await audit_ok(rt)


# --- item 3: one rule for who may send whom money ------------------------------------------


async def test_after_unfriending_a_red_packet_in_the_old_direct_chat_is_refused_like_a_transfer(
    client, rt, users, friends
):
    alice, bob = friends
    conv = await direct_chat(client, alice, bob)
    assert (await packet(client, alice, conv, 100)).status_code == 201
    r = await client.delete(f"/v1/friends/{bob.id}", headers=alice.headers)
    assert r.status_code in (200, 204), r.text
    by_transfer = await transfer(client, alice, bob, 100)
    by_packet = await packet(client, alice, conv, 100)
    assert by_transfer.status_code == by_packet.status_code == 403
    assert error_code(by_transfer) == error_code(by_packet) == "forbidden"
    assert by_packet.json()["error"]["details"] == by_transfer.json()["error"]["details"]
    back = await packet(client, bob, conv, 100)  # the other way too
    assert back.status_code == 403 and error_code(back) == "forbidden"
    assert await users.balance(alice) == 500_000 - 100
    assert await audit_ok(rt)


@pytest.fixture
async def blocked_in_a_group(client, rt, users, friends):
    """Alice blocks Bob; both stay in a group with Carol."""
    alice, bob = friends
    carol = await users.make("carol", balance_fen=10_000)
    group = await make_group(rt, [alice, bob, carol])
    # Packets sent before the block.
    before = {
        "alice": (await packet(client, alice, group, 300, 3)).json()["id"],
        "bob": (await packet(client, bob, group, 300, 3)).json()["id"],
        "alice_to_bob": (await packet(client, alice, group, 50, mode="exclusive", to_user_id=bob.id)).json()[
            "id"
        ],
    }
    r = await client.post(f"/v1/blocks/{bob.id}", headers=alice.headers)
    assert r.status_code in (200, 201), r.text
    return group, alice, bob, carol, before


async def test_after_a_block_no_exclusive_packet_either_way_in_a_shared_group(
    client, rt, users, blocked_in_a_group
):
    group, alice, bob, carol, _ = blocked_in_a_group
    by_transfer = await transfer(client, bob, alice, 100)
    assert by_transfer.status_code == 403 and error_code(by_transfer) == "forbidden"
    for sender, receiver in [(bob, alice), (alice, bob)]:
        r = await packet(client, sender, group, 100, mode="exclusive", to_user_id=receiver.id)
        assert r.status_code == 403 and error_code(r) == "forbidden", r.text
    # Not friends with Carol, yet an exclusive packet to her in the group is fine.
    assert (await packet(client, bob, group, 100, mode="exclusive", to_user_id=carol.id)).status_code == 201
    assert await audit_ok(rt)


async def test_after_a_block_neither_grabs_the_others_packets(client, rt, users, blocked_in_a_group):
    group, alice, bob, carol, before = blocked_in_a_group
    fresh = (await packet(client, bob, group, 200, 2)).json()["id"]  # sent after the block
    for who, packet_id in [
        (alice, before["bob"]),
        (alice, fresh),
        (bob, before["alice"]),
        (bob, before["alice_to_bob"]),
    ]:
        r = await grab(client, who, packet_id)
        assert r.status_code == 403 and error_code(r) == "forbidden", r.text
    # Everyone else grabs as before, the senders their own group packets too; the shares the
    # refused grabs did not take are still there.
    for who, packet_id in [
        (carol, before["bob"]),
        (bob, before["bob"]),
        (alice, before["alice"]),
        (carol, fresh),
    ]:
        assert (await grab(client, who, packet_id)).status_code == 200
    state = (await client.get(f"/v1/red-packets/{before['bob']}", headers=carol.headers)).json()
    assert state["remaining_count"] == 1
    assert await audit_ok(rt)


async def test_after_a_block_a_pending_transfer_cannot_be_accepted_but_can_be_declined(
    client, rt, users, friends
):
    alice, bob = friends
    t1 = (await transfer(client, bob, alice, 700)).json()["id"]
    t2 = (await transfer(client, bob, alice, 300)).json()["id"]
    assert (await client.post(f"/v1/blocks/{bob.id}", headers=alice.headers)).status_code in (200, 201)
    r = await client.post(f"/v1/transfers/{t1}/accept", headers=idem(alice))
    assert r.status_code == 403 and error_code(r) == "forbidden"
    assert (await client.get(f"/v1/transfers/{t1}", headers=alice.headers)).json()["status"] == "pending"
    r = await client.post(f"/v1/transfers/{t2}/decline", headers=idem(alice))
    assert r.status_code == 200 and r.json()["status"] == "declined"
    assert await users.balance(bob) == 100_000 - 700
    assert await users.balance(alice) == 500_000
    assert await audit_ok(rt)


async def test_unfriending_does_not_stop_money_already_sent(client, rt, users, friends):
    alice, bob = friends
    conv = await direct_chat(client, alice, bob)
    t = (await transfer(client, alice, bob, 400)).json()["id"]
    p = (await packet(client, alice, conv, 600)).json()["id"]
    assert (await client.delete(f"/v1/friends/{bob.id}", headers=alice.headers)).status_code in (200, 204)
    assert (await client.post(f"/v1/transfers/{t}/accept", headers=idem(bob))).status_code == 200
    assert (await grab(client, bob, p)).status_code == 200
    assert await users.balance(bob) == 100_000 + 1_000
    assert await audit_ok(rt)
