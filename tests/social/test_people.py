"""Person cards: ``GET /v1/users/{id}`` and who may see it (docs/safety.md)."""

from __future__ import annotations

from social.advisors import service as advisors
from tests.support.people import error_code


def card(p, name: str, badge: str | None = None) -> dict:
    return {"id": p.id, "display_name": name, "avatar_url": None, "badge": badge}


async def _hide(client, p) -> None:
    r = await client.patch("/v1/me", json={"discoverable": False}, headers=p.headers)
    assert r.status_code == 200, r.text


async def _get(client, viewer, target_id: str):
    return await client.get(f"/v1/users/{target_id}", headers=viewer.headers)


async def _not_found(client, viewer, target_id: str) -> None:
    r = await _get(client, viewer, target_id)
    unknown = await _get(client, viewer, "u_nobody")
    assert r.status_code == unknown.status_code == 404, r.text
    assert error_code(r) == "not_found"
    assert r.json()["error"]["message"] == unknown.json()["error"]["message"]


async def test_the_card_of_a_friend_a_co_member_and_myself(client, users):
    owner, friend, other = await users.make("群主"), await users.make("小李"), await users.make("小王")
    await users.friends(owner, friend)
    await users.friends(owner, other)
    for p in (friend, other):
        await _hide(client, p)
    r = await client.post(
        "/v1/conversations", json={"member_ids": [friend.id, other.id], "title": "家"}, headers=owner.headers
    )
    assert r.status_code == 201, r.text
    assert (await _get(client, owner, friend.id)).json() == card(friend, "小李")
    # friend and other are not friends, but share a group
    assert (await _get(client, friend, other.id)).json() == card(other, "小王")
    assert (await _get(client, other, other.id)).json() == card(other, "小王")


async def test_a_stranger_sees_a_discoverable_user_but_not_a_hidden_one(client, users):
    open_, shy, stranger = await users.make("open"), await users.make("shy"), await users.make("stranger")
    await _hide(client, shy)
    r = await _get(client, stranger, open_.id)
    assert r.status_code == 200 and r.json() == card(open_, "open")
    await _not_found(client, stranger, shy.id)
    assert "shy" not in (await _get(client, stranger, shy.id)).text


async def test_blocked_either_way_is_not_found(client, users):
    a, b = await users.make("a"), await users.make("b")
    await users.friends(a, b)
    assert (await _get(client, b, a.id)).status_code == 200
    r = await client.post(f"/v1/blocks/{b.id}", headers=a.headers)
    assert r.status_code == 201, r.text
    await _not_found(client, a, b.id)
    await _not_found(client, b, a.id)


async def test_staff_see_hidden_users_and_carry_their_badge(client, users, rt):
    shy, client_ = await users.make("shy"), await users.make("client")
    moderator = await users.make("mod", roles="user,moderator")
    advisor = await users.make("advisor", roles="user,advisor")
    for p in (shy, client_, advisor):
        await _hide(client, p)
    assert (await _get(client, moderator, shy.id)).json() == card(shy, "shy")
    await _not_found(client, advisor, client_.id)
    async with rt.sessionmaker() as db:
        await advisors.assign(db, rt, client_id=client_.id, advisor_id=advisor.id)
    assert (await _get(client, advisor, client_.id)).json() == card(client_, "client")
    assert (await _get(client, client_, advisor.id)).json() == card(advisor, "advisor", "advisor")
    assert (await _get(client, shy, moderator.id)).json() == card(moderator, "mod", "staff")


async def test_no_token_is_401(client, users):
    p = await users.make("p")
    r = await client.get(f"/v1/users/{p.id}")
    assert r.status_code == 401 and error_code(r) == "unauthenticated"


# ---- the card embedded where a client renders a person ---------------------------------------


async def test_conversations_and_messages_carry_the_cards(client, users):
    alice, bob, carol = await users.make("alice"), await users.make("bob"), await users.make("carol")
    await users.friends(alice, bob)
    await users.friends(alice, carol)
    r = await client.post("/v1/conversations", json={"member_ids": [bob.id]}, headers=alice.headers)
    direct = r.json()
    assert direct["peer"]["user_id"] == direct["peer"]["id"] == bob.id  # user_id kept
    assert {k: direct["peer"][k] for k in ("id", "display_name", "avatar_url", "badge")} == card(bob, "bob")
    assert direct["members"] == sorted([card(alice, "alice"), card(bob, "bob")], key=lambda c: c["id"])
    r = await client.post(
        f"/v1/conversations/{direct['id']}/messages",
        json={"cid": "c1", "body": {"kind": "text", "text": "hi"}},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    group = (
        await client.post(
            "/v1/conversations", json={"member_ids": [bob.id, carol.id], "title": "g"}, headers=alice.headers
        )
    ).json()
    assert [m["id"] for m in group["members"]] == group["member_ids"]
    assert card(carol, "carol") in group["members"]
    listed = (await client.get("/v1/conversations", headers=bob.headers)).json()["items"]
    by_id = {c["id"]: c for c in listed}
    assert by_id[direct["id"]]["last_message"]["sender"] == card(alice, "alice")
    assert by_id[direct["id"]]["last_message"]["sender_id"] == alice.id
    assert by_id[group["id"]]["last_message"]["sender"] is None  # the system's group_created
    detail = (await client.get(f"/v1/conversations/{group['id']}", headers=carol.headers)).json()
    assert detail["members"] == group["members"]
    page = (await client.get(f"/v1/conversations/{direct['id']}/messages", headers=bob.headers)).json()
    [m] = page["items"]
    assert m["sender_id"] == alice.id and m["sender"] == card(alice, "alice")


async def test_red_packet_claims_carry_the_cards(client, users, rt):
    from tests.social.money_support import idem, make_group

    alice = await users.make("alice", balance_fen=10_000)
    bob = await users.make("bob")
    conv = await make_group(rt, [alice, bob])
    r = await client.post(
        "/v1/red-packets",
        json={"conversation_id": conv, "total_fen": 100, "count": 2, "mode": "equal"},
        headers=idem(alice),
    )
    assert r.status_code == 201, r.text
    packet_id = r.json()["id"]
    g = await client.post(f"/v1/red-packets/{packet_id}/grab", headers=idem(bob))
    assert g.status_code == 200, g.text
    p = (await client.get(f"/v1/red-packets/{packet_id}", headers=alice.headers)).json()
    assert p["sender_id"] == alice.id and p["sender"] == card(alice, "alice")
    assert [(c["user_id"], c["user"]) for c in p["claims"]] == [(bob.id, card(bob, "bob"))]


async def test_moderation_items_carry_the_author(client, users):
    alice = await users.make("alice")
    mod = await users.make("mod", roles="moderator,user")
    r = await client.post(
        "/v1/posts", json={"kind": "post", "text": "加我微信 licai888 带你赚钱"}, headers=alice.headers
    )
    assert r.status_code == 201, r.text
    [item] = (await client.get("/v1/moderation/queue", headers=mod.headers)).json()["items"]
    assert item["author_id"] == alice.id and item["author"] == card(alice, "alice")
    detail = (await client.get(f"/v1/moderation/items/{item['id']}", headers=mod.headers)).json()
    assert detail["author"] == card(alice, "alice")


async def test_leaderboard_rows_carry_the_card_unless_anonymous(client, users):
    shy, friend, stranger = await users.make("shy"), await users.make("friend"), await users.make("stranger")
    await users.friends(shy, friend)
    for p, steps in ((shy, 9000), (friend, 5000), (stranger, 1000)):
        r = await client.post("/v1/me/steps", json={"date": "2026-11-25", "steps": steps}, headers=p.headers)
        assert r.status_code == 200, r.text
    await _hide(client, shy)
    url = "/v1/leaderboards/steps"
    seen = (
        await client.get(url, params={"scope": "global", "period": "all"}, headers=stranger.headers)
    ).json()
    assert seen["items"][0]["anonymous"] is True and seen["items"][0]["user"] is None
    assert [i["user"] for i in seen["items"][1:]] == [card(friend, "friend"), card(stranger, "stranger")]
    mine = (
        await client.get(url, params={"scope": "friends", "period": "all"}, headers=friend.headers)
    ).json()
    assert [i["user"] for i in mine["items"]] == [card(shy, "shy"), card(friend, "friend")]
