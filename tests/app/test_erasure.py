"""Erasing an account (``DELETE /v1/me``, issue 17 item 7): money still pending to or from
the member goes where it belongs at once, each feature erases what is the member's, and
the ledger stays balanced (Σ = 0 per currency) while other members keep their chats."""

from __future__ import annotations

from app.ledger import service as ledger
from social.red_packets import service as red_packets
from social.transfers import service as transfers
from tests.social.money_support import audit_ok, balance, idem, make_group, messages, notifications
from tests.support.people import error_code


async def _send(client, frm, to, amount: int) -> dict:
    r = await client.post(
        "/v1/transfers", json={"to_user_id": to.id, "amount_fen": amount}, headers=idem(frm)
    )
    assert r.status_code == 201, r.text
    return r.json()


async def _packet(client, frm, conv: str, total: int, count: int = 1, **extra) -> dict:
    r = await client.post(
        "/v1/red-packets",
        json={"conversation_id": conv, "total_fen": total, "count": count, "mode": "random", **extra},
        headers=idem(frm),
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_erasure_refunds_pending_money_at_once_and_keeps_the_ledger_balanced(client, rt, users):
    alice = await users.make("alice", balance_fen=10_000)
    bob = await users.make("bob", balance_fen=5_000)
    carol = await users.make("carol", balance_fen=3_000)
    await users.friends(alice, bob)
    await users.friends(alice, carol)
    to_alice = await _send(client, bob, alice, 2_000)  # pending: goes back to bob
    from_alice = await _send(client, alice, bob, 1_500)  # pending: back to alice, then the bank
    group = await make_group(rt, [alice, bob, carol])
    hers = await _packet(client, alice, group, 1_000, count=3)
    got = (await client.post(f"/v1/red-packets/{hers['id']}/grab", headers=idem(bob))).json()["amount_fen"]
    for_her = await _packet(client, carol, group, 300, mode="exclusive", to_user_id=alice.id)
    async with rt.sessionmaker() as db:
        settlement_before = await ledger.balance(db, ledger.SETTLEMENT)
    assert await users.balance(alice) == 10_000 - 1_500 - 1_000

    assert (await client.delete("/v1/me", headers=alice.headers)).status_code == 204

    # bob has his 2 000 back now, not in 24 h, and is told why
    assert await users.balance(bob) == 5_000 - 2_000 + 2_000 + got
    t = (await client.get(f"/v1/transfers/{to_alice['id']}", headers=bob.headers)).json()
    assert t["status"] == "refunded"
    [n] = await notifications(rt, bob.id, "transfer_refunded")
    assert n.data == {"transfer_id": to_alice["id"], "amount_fen": 2_000, "reason": "account_closed"}
    # what alice sent and nobody took went back to her wallet, and from there to the bank
    r = await client.post(f"/v1/transfers/{from_alice['id']}/accept", headers=idem(bob))
    assert r.status_code == 409 and error_code(r) == "conflict"
    r = await client.post(f"/v1/red-packets/{hers['id']}/grab", headers=idem(carol))
    assert r.status_code in (409, 410), r.text
    info = (await client.get(f"/v1/red-packets/{hers['id']}", headers=carol.headers)).json()
    assert info["status"] == "refunded" and info["refunded_fen"] == 1_000 - got
    # carol's packet for alice alone is back with carol, and carol is told
    assert await users.balance(carol) == 3_000
    [n] = await notifications(rt, carol.id, "red_packet_refunded")
    assert n.data["reason"] == "account_closed" and n.data["refunded_fen"] == 300
    info = (await client.get(f"/v1/red-packets/{for_her['id']}", headers=carol.headers)).json()
    assert info["status"] == "refunded"
    # nothing is left in an escrow or in alice's wallet; the bank holds what was hers
    for account in (
        transfers.escrow_of(to_alice["id"]),
        transfers.escrow_of(from_alice["id"]),
        red_packets.escrow_of(hers["id"]),
        red_packets.escrow_of(for_her["id"]),
    ):
        assert await balance(rt, account) == 0, account
    assert await balance(rt, ledger.wallet_account(alice.id)) == 0
    assert await balance(rt, ledger.SETTLEMENT) == settlement_before + 10_000 - got
    assert await notifications(rt, alice.id) == []  # a closed account is told nothing
    # the chats say what happened, readable by the others
    events = [m.body.get("event") for m in await messages(rt, group) if m.kind == "system"]
    assert events.count("red_packet_refunded") == 2
    conv = to_alice["conversation_id"]
    events = [m.body.get("event") for m in await messages(rt, conv) if m.kind == "system"]
    assert events == ["transfer_refunded", "transfer_refunded"]
    assert await audit_ok(rt)
