"""The 24 h refund sweeps, driven by the business clock: refunded once, even when two
sweeps run at once, and catching up on everything that expired meanwhile."""

from __future__ import annotations

import anyio
from sqlalchemy import select

from social.red_packets import service as red_packets
from social.red_packets.models import RedPacket
from social.transfers import service as transfers
from social.transfers.models import Transfer
from tests.social.money_support import audit_ok, balance, idem, make_group, messages, notifications
from tests.support.people import error_code

DAY = 24 * 3600


async def both(fn, rt):
    """Run the sweep twice at once, as two workers would; the refund counts."""
    counts: list[int] = []

    async def one() -> None:
        counts.append(await fn(rt))

    async with anyio.create_task_group() as tg:
        tg.start_soon(one)
        tg.start_soon(one)
    return counts


async def test_unaccepted_transfer_is_refunded_once_after_24h(client, rt, users):
    alice = await users.make("alice", balance_fen=10_000)
    bob = await users.make("bob")
    await users.friends(alice, bob)
    t = (
        await client.post(
            "/v1/transfers", json={"to_user_id": bob.id, "amount_fen": 2_500}, headers=idem(alice)
        )
    ).json()
    rt.clock.advance(DAY - 60)
    assert await transfers.refund_expired(rt) == 0
    assert await users.balance(alice) == 7_500
    rt.clock.advance(61)
    late = await client.post(f"/v1/transfers/{t['id']}/accept", headers=idem(bob))
    assert late.status_code == 410 and error_code(late) == "expired"
    assert (await client.get(f"/v1/transfers/{t['id']}", headers=bob.headers)).json()["status"] == "pending"
    assert sorted(await both(transfers.refund_expired, rt)) == [0, 1]
    assert await transfers.refund_expired(rt) == 0
    assert await users.balance(alice) == 10_000 and await users.balance(bob) == 0
    assert await balance(rt, transfers.escrow_of(t["id"])) == 0
    got = (await client.get(f"/v1/transfers/{t['id']}", headers=alice.headers)).json()
    assert got["status"] == "refunded"
    refunds = [m for m in await messages(rt, t["conversation_id"]) if m.kind == "system"]
    assert [m.body["event"] for m in refunds] == ["transfer_refunded"]
    [n] = await notifications(rt, alice.id, "transfer_refunded")
    assert n.data["reason"] == "expired"
    r = await client.post(f"/v1/transfers/{t['id']}/decline", headers=idem(bob))
    assert r.status_code == 409
    assert await audit_ok(rt)


async def test_sweep_catches_up_on_many_and_leaves_settled_ones_alone(client, rt, users):
    alice = await users.make("alice", balance_fen=100_000)
    bob = await users.make("bob")
    await users.friends(alice, bob)
    ids = []
    for i in range(12):
        r = await client.post(
            "/v1/transfers", json={"to_user_id": bob.id, "amount_fen": 100 + i}, headers=idem(alice)
        )
        ids.append(r.json()["id"])
    await client.post(f"/v1/transfers/{ids[0]}/accept", headers=idem(bob))
    await client.post(f"/v1/transfers/{ids[1]}/decline", headers=idem(bob))
    rt.clock.advance(3 * DAY)  # the service was down for days: everything is overdue
    assert sum(await both(transfers.refund_expired, rt)) == 10
    async with rt.sessionmaker() as db:
        statuses = dict((await db.execute(select(Transfer.id, Transfer.status))).all())
    assert statuses[ids[0]] == "accepted" and statuses[ids[1]] == "declined"
    assert all(statuses[i] == "refunded" for i in ids[2:])
    assert await users.balance(bob) == 100
    assert await users.balance(alice) == 100_000 - 100
    assert len(await notifications(rt, alice.id, "transfer_refunded")) == 11
    assert await audit_ok(rt)


async def test_expired_red_packet_refunds_the_rest_once(client, rt, users):
    alice = await users.make("alice", balance_fen=10_000)
    bob = await users.make("bob")
    carol = await users.make("carol")
    conv = await make_group(rt, [alice, bob, carol])
    p = (
        await client.post(
            "/v1/red-packets",
            json={"conversation_id": conv, "total_fen": 1_000, "count": 3, "mode": "random"},
            headers=idem(alice),
        )
    ).json()
    got = (await client.post(f"/v1/red-packets/{p['id']}/grab", headers=idem(bob))).json()["amount_fen"]
    rt.clock.advance(DAY + 1)
    info = (await client.get(f"/v1/red-packets/{p['id']}", headers=carol.headers)).json()
    assert info["status"] == "expired"
    late = await client.post(f"/v1/red-packets/{p['id']}/grab", headers=idem(carol))
    assert late.status_code == 410 and error_code(late) == "expired"
    assert sorted(await both(red_packets.refund_expired, rt)) == [0, 1]
    assert await red_packets.refund_expired(rt) == 0
    assert await users.balance(alice) == 10_000 - got
    info = (await client.get(f"/v1/red-packets/{p['id']}", headers=carol.headers)).json()
    assert info["status"] == "refunded"
    assert info["refunded_fen"] == 1_000 - got and info["remaining_fen"] == 0
    assert sum(c["amount_fen"] for c in info["claims"]) + info["refunded_fen"] == info["total_fen"]
    assert not any(c["luckiest"] for c in info["claims"])
    late = await client.post(f"/v1/red-packets/{p['id']}/grab", headers=idem(carol))
    assert late.status_code == 410
    assert await balance(rt, red_packets.escrow_of(p["id"])) == 0
    last = (await messages(rt, conv))[-1]
    assert last.kind == "system" and last.body == {
        "event": "red_packet_refunded",
        "packet_id": p["id"],
        "sender_id": alice.id,
        "refunded_fen": 1_000 - got,
    }
    [n] = await notifications(rt, alice.id, "red_packet_refunded")
    assert n.data["refunded_fen"] == 1_000 - got
    assert await audit_ok(rt)


async def test_fully_claimed_packets_are_not_refunded(client, rt, users):
    alice = await users.make("alice", balance_fen=10_000)
    bob = await users.make("bob")
    conv = await make_group(rt, [alice, bob])
    p = (
        await client.post(
            "/v1/red-packets",
            json={"conversation_id": conv, "total_fen": 300, "count": 1, "mode": "random"},
            headers=idem(alice),
        )
    ).json()
    await client.post(f"/v1/red-packets/{p['id']}/grab", headers=idem(bob))
    rt.clock.advance(2 * DAY)
    assert await red_packets.refund_expired(rt) == 0
    async with rt.sessionmaker() as db:
        packet = await db.get(RedPacket, p["id"])
        assert packet is not None and packet.status == "finished" and packet.refunded_fen == 0
    assert await notifications(rt, alice.id, "red_packet_refunded") == []
