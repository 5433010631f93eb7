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


async def test_erasure_takes_back_likes_and_blanks_comments_keeping_threads_and_counts(client, rt, users):
    from tests.content.helpers import new_post

    alice, bob, carol = await users.make("alice"), await users.make("bob"), await users.make("carol")
    post = await new_post(client, bob, text="今天的基金怎么看")
    pid = post["id"]
    for p in (alice, carol):
        assert (await client.post(f"/v1/posts/{pid}/like", headers=p.headers)).status_code == 200
    r = await client.post(
        f"/v1/posts/{pid}/comments", json={"text": "alice的私人看法"}, headers=alice.headers
    )
    assert r.status_code == 201, r.text
    hers = r.json()["id"]
    r = await client.post(
        f"/v1/posts/{pid}/comments", json={"text": "同意楼上", "reply_to": hers}, headers=carol.headers
    )
    assert r.status_code == 201, r.text
    before = (await client.get(f"/v1/posts/{pid}", headers=bob.headers)).json()
    assert (before["like_count"], before["comment_count"]) == (2, 2)

    assert (await client.delete("/v1/me", headers=alice.headers)).status_code == 204

    after = (await client.get(f"/v1/posts/{pid}", headers=bob.headers)).json()
    assert (after["like_count"], after["comment_count"]) == (1, 2)  # her like gone, the thread whole
    items = (await client.get(f"/v1/posts/{pid}/comments", headers=bob.headers)).json()["items"]
    assert [(c["text"], c["reply_to"]) for c in items] == [("[已删除]", None), ("同意楼上", hers)]
    assert items[0]["author"]["display_name"] == "已注销用户"
    r = await client.get(f"/v1/posts/{pid}/comments", headers=bob.headers)
    assert "alice的私人看法" not in r.text
    # carol can still take her own like back: the count stays right
    await client.delete(f"/v1/posts/{pid}/like", headers=carol.headers)
    assert (await client.get(f"/v1/posts/{pid}", headers=bob.headers)).json()["like_count"] == 0


async def test_erasure_clears_game_state_boards_points_and_vouchers_and_keeps_pts_balanced(client, rt, users):
    from sqlalchemy import func, select

    from games.farm.models import EggLog, Farm
    from games.forest.models import ForestAccount, Grove
    from games.quiz.models import QuizAnswer
    from games.rights.models import Voucher
    from tests.games.helpers import assert_energy_conserved, event, ripe_ball, service_headers, spend

    alice, bob, dan = await users.make("alice"), await users.make("bob"), await users.make("dan")
    await users.friends(alice, bob)
    ball = await ripe_ball(client, rt, bob)  # bob's energy, collected (moves the clock a day)
    held = (await client.post(f"/v1/forest/balls/{ball['id']}/collect", headers=bob.headers)).json()[
        "energy_g"
    ]
    today = rt.clock.local(rt.clock.now()).date().isoformat()
    for p, steps in ((alice, 9_000), (bob, 5_000), (dan, 1_000)):
        r = await client.post("/v1/me/steps", json={"date": today, "steps": steps}, headers=p.headers)
        assert r.status_code == 200, r.text
    assert (
        await client.post("/v1/farm/quiz/answer", json={"choice": 0}, headers=alice.headers)
    ).status_code == 200
    await spend(client, rt, [event(alice.id, amount_fen=500_000, at=rt.clock.now())])  # her energy ball
    # a grove alice started, that bob gave to: bob gets his energy back
    grove = (
        await client.post("/v1/forest/groves", json={"species_id": "saxaul"}, headers=alice.headers)
    ).json()
    r = await client.post(
        f"/v1/forest/groves/{grove['id']}/contribute", json={"grams": 100}, headers=bob.headers
    )
    assert r.status_code == 200, r.text
    assert (await client.get("/v1/forest", headers=bob.headers)).json()["energy_g"] == held - 100
    # alice's chicken visits bob's bowl; what it ate goes back to bob's feed
    assert (await client.post("/v1/farm/feed", headers=bob.headers)).status_code == 200
    assert (await client.post(f"/v1/farm/visit/{bob.id}", headers=alice.headers)).status_code == 200
    await rt.advance_clock(600)
    # a voucher alice holds, paid in points
    admin = await users.make("admin", roles="admin,user")
    from tests.games.test_rights import give_points, make_right

    await give_points(rt, alice, 100)
    right = await make_right(client, rt, admin, points_price=10)
    r = await client.post(
        f"/v1/rights/{right['id']}/claim", headers=alice.headers | {"Idempotency-Key": "v1"}
    )
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    pts = (await client.get("/v1/me/points", headers=alice.headers)).json()["balance"]
    assert pts > 0
    board = (
        await client.get("/v1/leaderboards/steps", params={"scope": "global"}, headers=bob.headers)
    ).json()
    assert alice.id in [i["user_id"] for i in board["items"]]
    async with rt.sessionmaker() as db:
        expired_before = await ledger.balance(db, ledger.POINTS_EXPIRED)

    assert (await client.delete("/v1/me", headers=alice.headers)).status_code == 204

    board = (
        await client.get("/v1/leaderboards/steps", params={"scope": "global"}, headers=bob.headers)
    ).json()
    assert [i["user_id"] for i in board["items"]] == [bob.id, dan.id]
    assert (await client.get("/v1/forest", headers=bob.headers)).json()["energy_g"] == held
    body = {"code": code, "merchant_id": "starbucks-001"}
    r = await client.post("/v1/merchant/vouchers/redeem", json=body, headers=service_headers(rt))
    assert r.status_code == 410 and error_code(r) == "expired"  # no code of a closed account works
    async with rt.sessionmaker() as db:
        assert await ledger.balance(db, ledger.points_account(alice.id)) == 0
        assert await ledger.balance(db, ledger.POINTS_EXPIRED) == expired_before + pts
        assert (await ledger.audit(db)).ok  # Σ = 0 in CNY and in PTS
        [state] = (await db.execute(select(Voucher.state).where(Voucher.user_id == alice.id))).scalars()
        assert state == "expired"
        for model, column in (
            (ForestAccount, ForestAccount.user_id),
            (Grove, Grove.creator_id),
            (Farm, Farm.user_id),
            (EggLog, EggLog.user_id),
            (QuizAnswer, QuizAnswer.user_id),
        ):
            n = await db.scalar(select(func.count()).select_from(model).where(column == alice.id))
            assert n == 0, model
        host = await db.get(Farm, bob.id)
        assert host is not None and host.visitor_id is None
    await assert_energy_conserved(rt)
    # a rebuild from history leaves her out too
    from games.leaderboards import boards

    await boards.rebuild_all(rt)
    board = (
        await client.get("/v1/leaderboards/steps", params={"scope": "global"}, headers=bob.headers)
    ).json()
    assert [i["user_id"] for i in board["items"]] == [bob.id, dan.id]


async def test_erasure_removes_address_book_matches_both_ways(client, rt, users):
    from sqlalchemy import func, select

    from social.contacts.models import ContactEdge

    alice = await users.make("alice", phone="+8613900000041")
    bob = await users.make("bob", phone="+8613900000042")
    for p in (alice, bob):
        await users.make_cardholder(p)
    r = await client.post(
        "/v1/contacts/sync", json={"contacts": [{"phone": "13900000041"}]}, headers=bob.headers
    )
    assert [m["user_id"] for m in r.json()["matches"]] == [alice.id]
    r = await client.post(
        "/v1/contacts/sync", json={"contacts": [{"phone": "13900000042"}]}, headers=alice.headers
    )
    assert [m["user_id"] for m in r.json()["matches"]] == [bob.id]

    assert (await client.delete("/v1/me", headers=alice.headers)).status_code == 204

    assert (await client.get("/v1/contacts/matches", headers=bob.headers)).json()["items"] == []
    async with rt.sessionmaker() as db:
        n = await db.scalar(
            select(func.count())
            .select_from(ContactEdge)
            .where((ContactEdge.owner_id == alice.id) | (ContactEdge.contact_id == alice.id))
        )
    assert n == 0


async def test_export_holds_each_features_new_section_and_nothing_of_others(client, rt, users):
    alice = await users.make("alice", balance_fen=10_000, phone="+8613900000051")
    bob = await users.make("bob", balance_fen=5_000, phone="+8613900000052")
    await users.friends(alice, bob)
    for p in (alice, bob):
        await users.make_cardholder(p)
    to_bob = await _send(client, alice, bob, 1_200)
    from_bob = await _send(client, bob, alice, 700)
    group = await make_group(rt, [alice, bob])
    packet = await _packet(client, alice, group, 500, count=1)
    r = await client.post("/v1/me/steps", json={"date": "2026-11-25", "steps": 4_321}, headers=alice.headers)
    assert r.status_code == 200
    assert (
        await client.post("/v1/farm/quiz/answer", json={"choice": 1}, headers=alice.headers)
    ).status_code == 200
    r = await client.post(
        "/v1/contacts/sync", json={"contacts": [{"phone": "13900000052"}]}, headers=alice.headers
    )
    assert r.status_code == 200

    r = await client.get("/v1/me/export", headers=alice.headers)
    assert r.status_code == 200
    data = r.json()
    assert {t["id"] for t in data["transfers"]["transfers"]} == {to_bob["id"], from_bob["id"]}
    assert [p["id"] for p in data["red_packets"]["sent"]] == [packet["id"]]
    assert [n["kind"] for n in data["notifications"]["notifications"]] == ["transfer_received"]
    assert data["push"] == {"devices": [], "muted": [], "quiet_start": None, "quiet_end": None}
    assert [m["user_id"] for m in data["contacts"]["matches"]] == [bob.id]
    assert data["energy"]["steps"] == [{"day": "2026-11-25", "steps": 4_321}]
    assert [a["choice"] for a in data["quiz"]["answers"]] == [1]
    assert data["leaderboards"]["steps"]["all"] == 4_321
    assert "balance" in data["points"]
    theirs = await client.get("/v1/me/export", headers=bob.headers)
    assert [n["kind"] for n in theirs.json()["notifications"]["notifications"]] == ["transfer_received"]
    assert theirs.json()["red_packets"]["sent"] == [] and theirs.json()["energy"]["steps"] == []


async def test_erasure_racing_an_accept_and_a_grab_pays_each_once(client, rt, users):
    """The member accepts a transfer and a friend grabs the member's packet while the member
    erases: each transfer is paid or refunded once, each share grabbed or refunded once."""
    import asyncio

    alice = await users.make("alice", balance_fen=10_000)
    bob = await users.make("bob", balance_fen=5_000)
    await users.friends(alice, bob)
    t = await _send(client, bob, alice, 2_000)
    group = await make_group(rt, [alice, bob])
    packet = await _packet(client, alice, group, 900, count=1)
    accept, grab, erase = await asyncio.gather(
        client.post(f"/v1/transfers/{t['id']}/accept", headers=idem(alice)),
        client.post(f"/v1/red-packets/{packet['id']}/grab", headers=idem(bob)),
        client.delete("/v1/me", headers=alice.headers),
    )
    assert erase.status_code == 204
    assert accept.status_code in (200, 401, 409), accept.text
    assert grab.status_code in (200, 409, 410), grab.text
    status = (await client.get(f"/v1/transfers/{t['id']}", headers=bob.headers)).json()["status"]
    info = (await client.get(f"/v1/red-packets/{packet['id']}", headers=bob.headers)).json()
    grabbed = sum(c["amount_fen"] for c in info["claims"])
    assert grabbed + info["refunded_fen"] == 900
    back = 2_000 if status == "refunded" else 0
    assert status in ("accepted", "refunded") and (status == "accepted") == (accept.status_code == 200)
    assert await users.balance(bob) == 5_000 - 2_000 + back + grabbed
    assert await balance(rt, ledger.wallet_account(alice.id)) == 0
    for account in (transfers.escrow_of(t["id"]), red_packets.escrow_of(packet["id"])):
        assert await balance(rt, account) == 0, account
    assert await audit_ok(rt)
