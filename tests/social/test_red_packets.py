"""Red packets through the API: modes, limits, who may grab, exactly-once, privacy."""

from __future__ import annotations

import anyio
import pytest
from sqlalchemy import select

from social.chat import service as chat
from social.red_packets.models import RedPacket
from social.red_packets.service import escrow_of
from tests.social.money_support import audit_ok, balance, block, idem, make_group, messages
from tests.support.people import error_code


@pytest.fixture
async def group(rt, users):
    alice = await users.make("alice", balance_fen=100_000)
    bob = await users.make("bob")
    carol = await users.make("carol")
    dave = await users.make("dave")
    conv = await make_group(rt, [alice, bob, carol, dave])
    return conv, alice, bob, carol, dave


async def create(client, sender, conv, total=1_000, count=3, mode="random", **extra):
    return await client.post(
        "/v1/red-packets",
        json={"conversation_id": conv, "total_fen": total, "count": count, "mode": mode, **extra},
        headers=idem(sender),
    )


async def grab(client, person, packet_id, key=None):
    return await client.post(f"/v1/red-packets/{packet_id}/grab", headers=idem(person, key))


async def test_random_packet_is_grabbed_share_by_share_and_sums_to_total(client, rt, users, group):
    conv, alice, bob, carol, dave = group
    r = await create(client, alice, conv, 1_000, 3, greeting="新年快乐")
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["expires_at"] and p["id"].startswith("rp_")
    assert await users.balance(alice) == 99_000
    assert await balance(rt, escrow_of(p["id"])) == 1_000
    msgs = await messages(rt, conv)
    assert [m.kind for m in msgs] == ["red_packet"]
    assert msgs[0].body["packet_id"] == p["id"] and msgs[0].body["greeting"] == "新年快乐"
    amounts = {}
    for person in (bob, carol, dave):
        g = await grab(client, person, p["id"])
        assert g.status_code == 200, g.text
        assert g.json()["amount_fen"] >= 1
        amounts[person.id] = g.json()["amount_fen"]
        assert await users.balance(person) == amounts[person.id]
    assert sum(amounts.values()) == 1_000
    late = await grab(client, alice, p["id"])
    assert late.status_code == 409 and error_code(late) == "sold_out"
    twice = await grab(client, bob, p["id"])
    assert twice.status_code == 409 and error_code(twice) == "already_claimed"
    info = (await client.get(f"/v1/red-packets/{p['id']}", headers=carol.headers)).json()
    assert info["status"] == "finished"
    assert (info["total_fen"], info["count"], info["remaining_count"], info["remaining_fen"]) == (
        1000,
        3,
        0,
        0,
    )
    assert {c["user_id"]: c["amount_fen"] for c in info["claims"]} == amounts
    lucky = [c for c in info["claims"] if c["luckiest"]]
    assert len(lucky) == 1 and lucky[0]["amount_fen"] == max(amounts.values())
    assert "shares" not in info
    events = [m.body.get("event") for m in await messages(rt, conv) if m.kind == "system"]
    assert events == ["red_packet_claimed"] * 3
    assert await balance(rt, escrow_of(p["id"])) == 0
    assert await audit_ok(rt)


async def test_luckiest_only_once_a_random_packet_is_fully_claimed(client, users, group):
    conv, alice, bob, carol, _ = group
    p = (await create(client, alice, conv, 500, 2)).json()
    await grab(client, bob, p["id"])
    info = (await client.get(f"/v1/red-packets/{p['id']}", headers=bob.headers)).json()
    assert info["status"] == "open" and not any(c["luckiest"] for c in info["claims"])
    eq = (await create(client, alice, conv, 500, 2, "equal")).json()
    await grab(client, bob, eq["id"])
    await grab(client, carol, eq["id"])
    info = (await client.get(f"/v1/red-packets/{eq['id']}", headers=bob.headers)).json()
    assert info["status"] == "finished" and not any(c["luckiest"] for c in info["claims"])


async def test_equal_packet_gives_equal_shares(client, users, group):
    conv, alice, bob, carol, dave = group
    p = (await create(client, alice, conv, 1_000, 3, "equal")).json()
    got = [(await grab(client, x, p["id"])).json()["amount_fen"] for x in (bob, carol, dave)]
    assert got == [334, 333, 333]


async def test_the_sender_may_grab_in_a_group(client, users, group):
    conv, alice, *_ = group
    p = (await create(client, alice, conv, 100, 1)).json()
    g = await grab(client, alice, p["id"])
    assert g.status_code == 200 and g.json()["amount_fen"] == 100
    assert await users.balance(alice) == 100_000


async def test_exclusive_packet_is_for_the_named_member_only(client, users, group):
    conv, alice, bob, carol, _ = group
    p = (await create(client, alice, conv, 666, 1, "exclusive", to_user_id=carol.id)).json()
    r = await grab(client, bob, p["id"])
    assert r.status_code == 403 and error_code(r) == "forbidden"
    r = await grab(client, alice, p["id"])
    assert r.status_code == 403
    assert (await grab(client, carol, p["id"])).json()["amount_fen"] == 666
    assert await users.balance(carol) == 666


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ({"mode": "exclusive"}, "no to_user_id"),
        ({"mode": "exclusive", "to_user_id": "u_outsider"}, "not a member"),
        ({"mode": "exclusive", "to_user_id": "SELF"}, "to the sender"),
        ({"mode": "exclusive", "to_user_id": "BOB", "count": 2}, "two shares"),
        ({"mode": "random", "to_user_id": "BOB"}, "to_user_id on a random packet"),
        ({"count": 0}, "no shares"),
        ({"count": 101}, "too many shares"),
        ({"count": 5}, "more shares than members"),
        ({"total_fen": 2, "count": 3}, "less than 1 fen a share"),
        ({"total_fen": 0}, "nothing"),
        ({"total_fen": "100"}, "a string"),
        ({"count": 1.0}, "a float count"),
        ({"mode": "lottery"}, "unknown mode"),
        ({"greeting": "x" * 101}, "long greeting"),
    ],
)
async def test_bad_packets_are_422_and_cost_nothing(client, users, group, extra, why):
    conv, alice, bob, *_ = group
    body = {"total_fen": 1_000, "count": 1, "mode": "random", **extra}
    if body.get("to_user_id") == "SELF":
        body["to_user_id"] = alice.id
    if body.get("to_user_id") == "BOB":
        body["to_user_id"] = bob.id
    r = await client.post("/v1/red-packets", json={"conversation_id": conv, **body}, headers=idem(alice))
    assert r.status_code == 422, (why, r.text)
    assert error_code(r) == "validation_error"
    assert await users.balance(alice) == 100_000


async def test_count_may_equal_the_members_who_can_grab(client, group):
    conv, alice, *_ = group
    assert (await create(client, alice, conv, 1_000, 4)).status_code == 201


async def test_above_the_maximum_is_limit_exceeded(client, rt, users, group):
    conv, alice, *_ = group
    r = await create(client, alice, conv, rt.settings.red_packet_max_fen + 1, 1)
    assert r.status_code == 409 and error_code(r) == "limit_exceeded"
    assert (await create(client, alice, conv, rt.settings.red_packet_max_fen, 1)).status_code == 201


async def test_not_enough_money(client, rt, users):
    poor = await users.make("poor", balance_fen=50)
    bob = await users.make("bob")
    conv = await make_group(rt, [poor, bob])
    r = await create(client, poor, conv, 51, 1)
    assert r.status_code == 409 and error_code(r) == "insufficient_funds"
    assert await users.balance(poor) == 50
    async with rt.sessionmaker() as db:
        assert (await db.execute(select(RedPacket))).first() is None
    assert await messages(rt, conv) == []


async def test_direct_chat_packet_is_for_the_other_person(client, rt, users):
    alice = await users.make("alice", balance_fen=10_000)
    bob = await users.make("bob")
    await users.friends(alice, bob)
    async with rt.sessionmaker() as db:
        conv = (await chat.get_or_create_direct(db, rt, alice.id, bob.id)).id
    r = await create(client, alice, conv, 100, 2)
    assert r.status_code == 422  # one other person: one share
    p = (await create(client, alice, conv, 188, 1)).json()
    r = await grab(client, alice, p["id"])
    assert r.status_code == 403 and error_code(r) == "forbidden"
    assert (await grab(client, bob, p["id"])).json()["amount_fen"] == 188
    await block(rt, bob, alice)
    r = await create(client, alice, conv, 100, 1)
    assert r.status_code == 403 and error_code(r) == "forbidden"


async def test_outsiders_see_and_take_nothing(client, rt, users, group):
    conv, alice, bob, *_ = group
    mallory = await users.make("mallory", balance_fen=5_000)
    p = (await create(client, alice, conv, 1_000, 2)).json()
    r = await grab(client, mallory, p["id"])
    assert r.status_code == 404 and error_code(r) == "not_found"
    r = await client.get(f"/v1/red-packets/{p['id']}", headers=mallory.headers)
    assert r.status_code == 404 and "total_fen" not in r.text
    r = await create(client, mallory, conv, 100, 1)
    assert r.status_code == 404
    assert (await client.get(f"/v1/red-packets/{p['id']}")).status_code == 401
    assert (
        await client.post(f"/v1/red-packets/{p['id']}/grab", headers={"Idempotency-Key": "k"})
    ).status_code == 401
    assert (
        await client.post("/v1/red-packets", json={"conversation_id": conv, "total_fen": 1, "count": 1})
    ).status_code == 401
    assert (await grab(client, bob, "rp_missing")).status_code == 404
    assert (await client.get("/v1/red-packets/rp_missing", headers=bob.headers)).status_code == 404
    no_key = await client.post(f"/v1/red-packets/{p['id']}/grab", headers=bob.headers)
    assert no_key.status_code == 422
    assert await users.balance(mallory) == 5_000
    info = (await client.get(f"/v1/red-packets/{p['id']}", headers=bob.headers)).json()
    assert info["remaining_count"] == 2 and info["claims"] == []


async def test_a_grab_replayed_with_its_key_pays_once(client, users, group):
    conv, alice, bob, *_ = group
    p = (await create(client, alice, conv, 1_000, 2)).json()
    first = await grab(client, bob, p["id"], key="g1")
    again = await grab(client, bob, p["id"], key="g1")
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert await users.balance(bob) == first.json()["amount_fen"]
    create_again = await client.post(
        "/v1/red-packets",
        json={"conversation_id": conv, "total_fen": 10, "count": 1, "mode": "random"},
        headers=idem(alice, "c1"),
    )
    replay = await client.post(
        "/v1/red-packets",
        json={"conversation_id": conv, "total_fen": 10, "count": 1, "mode": "random"},
        headers=idem(alice, "c1"),
    )
    assert create_again.json() == replay.json()
    assert await users.balance(alice) == 100_000 - 1_000 - 10


async def test_a_key_reused_for_another_packet_is_refused_and_takes_nothing(client, users, group):
    # The grab runs before its key is found taken, so its share, and its gate ticket, must go back.
    conv, alice, bob, *_ = group
    first = (await create(client, alice, conv, 1_000, 1)).json()
    second = (await create(client, alice, conv, 500, 1)).json()
    assert (await grab(client, bob, first["id"], key="k")).status_code == 200
    reused = await grab(client, bob, second["id"], key="k")
    assert reused.status_code == 409 and error_code(reused) == "conflict"
    assert await users.balance(bob) == 1_000
    retried = await grab(client, bob, second["id"], key="k2")
    assert retried.status_code == 200, retried.text
    assert retried.json()["amount_fen"] == 500
    assert await users.balance(bob) == 1_500


async def test_concurrent_grabs_take_exactly_count_shares(client, rt, users):
    sender = await users.make("sender", balance_fen=10_000)
    crowd = [await users.make(f"m{i}") for i in range(24)]
    conv = await make_group(rt, [sender, *crowd])
    p = (await create(client, sender, conv, 5_000, 10)).json()
    results: list[tuple[str, int, dict]] = []

    async def one(person, key):
        r = await grab(client, person, p["id"], key=key)
        results.append((person.id, r.status_code, r.json()))

    async with anyio.create_task_group() as tg:
        for n, person in enumerate(crowd):
            tg.start_soon(one, person, f"a{n}")
            tg.start_soon(one, person, f"b{n}")  # each member twice, with different keys
    wins = [(uid, body["amount_fen"]) for uid, status, body in results if status == 200]
    assert len(wins) == 10
    assert len({uid for uid, _ in wins}) == 10
    assert sum(a for _, a in wins) == 5_000
    codes = {body["error"]["code"] for _, status, body in results if status != 200}
    assert codes <= {"sold_out", "already_claimed"}
    info = (await client.get(f"/v1/red-packets/{p['id']}", headers=sender.headers)).json()
    assert sum(c["amount_fen"] for c in info["claims"]) == 5_000
    assert await audit_ok(rt)
