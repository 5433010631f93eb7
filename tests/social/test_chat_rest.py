"""Chat over REST: starting conversations, listing with unread counts, history paging, and
who may see what."""

from __future__ import annotations

import pytest

from app.db import transaction
from social.friends.models import Block
from tests.support.people import error_code


async def send(client, person, conversation_id: str, text: str, cid: str | None = None):
    r = await client.post(
        f"/v1/conversations/{conversation_id}/messages",
        json={"cid": cid or f"c-{text[:40]}", "body": {"kind": "text", "text": text}},
        headers=person.headers,
    )
    assert r.status_code == 200, r.text
    return r.json()


async def direct(client, a, b) -> dict:
    r = await client.post("/v1/conversations", json={"member_ids": [b.id]}, headers=a.headers)
    assert r.status_code in (200, 201), r.text
    return r.json()


async def test_one_friend_gives_the_direct_conversation_once(client, users):
    alice, bob = await users.make("alice"), await users.make("bob")
    await users.friends(alice, bob)
    r1 = await client.post("/v1/conversations", json={"member_ids": [bob.id]}, headers=alice.headers)
    r2 = await client.post("/v1/conversations", json={"member_ids": [alice.id]}, headers=bob.headers)
    assert (r1.status_code, r2.status_code) == (201, 200)
    assert r1.json()["id"] == r2.json()["id"]
    body = r1.json()
    assert body["kind"] == "direct" and body["member_count"] == 2
    assert sorted(body["member_ids"]) == sorted([alice.id, bob.id])
    assert body["peer"]["user_id"] == bob.id and r2.json()["peer"]["user_id"] == alice.id


async def test_strangers_and_blocked_users_cannot_start_a_conversation(client, users, rt):
    alice, bob, carol = await users.make("alice"), await users.make("bob"), await users.make("carol")
    r = await client.post("/v1/conversations", json={"member_ids": [bob.id]}, headers=alice.headers)
    assert r.status_code == 403 and error_code(r) == "forbidden"
    await users.friends(alice, carol)
    r = await client.post("/v1/conversations", json={"member_ids": [carol.id, bob.id]}, headers=alice.headers)
    assert r.status_code == 403 and r.json()["error"]["details"]["user_ids"] == [bob.id]
    conv = await direct(client, alice, carol)
    async with rt.sessionmaker() as db, transaction(db):
        db.add(Block(blocker_id=carol.id, blocked_id=alice.id, created_at=rt.clock.now()))
    r = await client.post(
        f"/v1/conversations/{conv['id']}/messages",
        json={"cid": "x", "body": {"kind": "text", "text": "hi"}},
        headers=alice.headers,
    )
    assert r.status_code == 403
    r = await client.post(
        f"/v1/conversations/{conv['id']}/messages",
        json={"cid": "y", "body": {"kind": "text", "text": "hi"}},
        headers=carol.headers,
    )
    assert r.status_code == 403, "blocking works both ways"
    r = await client.post("/v1/conversations", json={"member_ids": [carol.id]}, headers=alice.headers)
    assert r.status_code == 403


async def test_group_of_friends_with_a_title_and_a_system_message(client, users):
    alice = await users.make("alice")
    friends = [await users.make(f"f{i}") for i in range(3)]
    for f in friends:
        await users.friends(alice, f)
    ids = [f.id for f in friends]
    r = await client.post(
        "/v1/conversations",
        json={"member_ids": [*ids, ids[0], alice.id], "title": "周末徒步"},
        headers=alice.headers,
    )
    assert r.status_code == 201, r.text
    group = r.json()
    assert group["kind"] == "group" and group["title"] == "周末徒步" and group["member_count"] == 4
    assert group["last_message"]["kind"] == "system" and group["last_seq"] == 1
    # The members see it, unread; the creator does not count the system message... it does: it is unread.
    r = await client.get("/v1/conversations", headers=friends[1].headers)
    [item] = r.json()["items"]
    assert item["id"] == group["id"] and item["unread_count"] == 1
    # One friend with a title is a group too.
    r = await client.post(
        "/v1/conversations", json={"member_ids": [ids[0]], "title": "two"}, headers=alice.headers
    )
    assert r.status_code == 201 and r.json()["kind"] == "group"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"member_ids": []},
        {"member_ids": "u_x"},
        {"member_ids": [1, 2]},
        {"member_ids": ["a" * 41]},
        {"member_ids": ["u_x"], "title": ""},
        {"member_ids": ["u_x"], "title": "x" * 101},
        {"member_ids": ["u_x"], "extra": 1},
    ],
)
async def test_bad_conversation_requests_are_422(client, users, body):
    alice = await users.make("alice")
    r = await client.post("/v1/conversations", json=body, headers=alice.headers)
    assert r.status_code == 422 and error_code(r) == "validation_error"


async def test_only_myself_is_not_a_conversation(client, users):
    alice = await users.make("alice")
    r = await client.post("/v1/conversations", json={"member_ids": [alice.id]}, headers=alice.headers)
    assert r.status_code == 422


async def test_groups_are_limited_in_size(client, users, rt):
    alice = await users.make("alice")
    ids = [f"u_fake{i}" for i in range(rt.settings.chat_group_max_members)]
    r = await client.post(
        "/v1/conversations", json={"member_ids": ids, "title": "big"}, headers=alice.headers
    )
    assert r.status_code == 422


async def test_list_shows_last_message_and_unread_and_read_clears_it(client, users):
    alice, bob = await users.make("alice"), await users.make("bob")
    await users.friends(alice, bob)
    conv = await direct(client, alice, bob)
    for i in range(3):
        await send(client, alice, conv["id"], f"hello {i}")
    r = await client.get("/v1/conversations", headers=bob.headers)
    [item] = r.json()["items"]
    assert item["unread_count"] == 3 and item["last_message"]["body"] == {"text": "hello 2"}
    assert item["last_message"]["sender_id"] == alice.id and item["last_seq"] == 3
    assert item["peer"]["display_name"] == "alice"
    r = await client.get("/v1/conversations", headers=alice.headers)
    assert r.json()["items"][0]["unread_count"] == 0, "my own messages are read"
    r = await client.post(f"/v1/conversations/{conv['id']}/read", json={"seq": 2}, headers=bob.headers)
    assert r.json() == {"conversation_id": conv["id"], "last_read_seq": 2, "unread_count": 1}
    # Never backwards, never past the end.
    r = await client.post(f"/v1/conversations/{conv['id']}/read", json={"seq": 1}, headers=bob.headers)
    assert r.json()["last_read_seq"] == 2
    r = await client.post(f"/v1/conversations/{conv['id']}/read", json={"seq": 99}, headers=bob.headers)
    assert r.json()["last_read_seq"] == 3 and r.json()["unread_count"] == 0


async def test_conversations_are_listed_by_activity_with_a_cursor(client, users, rt):
    alice = await users.make("alice")
    friends = [await users.make(f"f{i}") for i in range(5)]
    convs = []
    for f in friends:
        await users.friends(alice, f)
        convs.append(await direct(client, alice, f))
        rt.clock.advance(60)  # a minute between conversations: activity orders them
    await send(client, friends[2], convs[2]["id"], "bump")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await client.get("/v1/conversations", params=params, headers=alice.headers)
        assert r.status_code == 200
        seen += [c["id"] for c in r.json()["items"]]
        assert len(seen) <= 5, "pages repeat conversations"  # a cursor that stands still ends here
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [convs[i]["id"] for i in (2, 4, 3, 1, 0)]
    r = await client.get("/v1/conversations", params={"cursor": "garbage!"}, headers=alice.headers)
    assert r.status_code == 422


async def test_message_history_pages_by_seq(client, users):
    alice, bob = await users.make("alice"), await users.make("bob")
    await users.friends(alice, bob)
    conv = await direct(client, alice, bob)
    for i in range(1, 8):
        ack = await send(client, alice if i % 2 else bob, conv["id"], f"m{i}")
        assert ack["seq"] == i
    url = f"/v1/conversations/{conv['id']}/messages"
    r = await client.get(url, params={"limit": 3}, headers=bob.headers)
    page = r.json()
    assert [m["seq"] for m in page["items"]] == [5, 6, 7]
    r = await client.get(url, params={"cursor": page["next_cursor"], "limit": 3}, headers=bob.headers)
    assert [m["seq"] for m in r.json()["items"]] == [2, 3, 4]
    r = await client.get(url, params={"after_seq": 2, "limit": 3}, headers=bob.headers)
    page = r.json()
    assert [m["seq"] for m in page["items"]] == [3, 4, 5]
    assert page["items"][0]["body"] == {"text": "m3"} and page["items"][0]["sender_id"] == alice.id
    r = await client.get(url, params={"cursor": page["next_cursor"], "limit": 3}, headers=bob.headers)
    assert [m["seq"] for m in r.json()["items"]] == [6, 7] and r.json()["next_cursor"] is None
    r = await client.get(url, params={"after_seq": 1, "before_seq": 4}, headers=bob.headers)
    assert [m["seq"] for m in r.json()["items"]] == [2, 3]
    r = await client.get(url, params={"before_seq": 3}, headers=bob.headers)
    assert [m["seq"] for m in r.json()["items"]] == [1, 2] and r.json()["next_cursor"] is None
    for bad in (
        {"after_seq": -1},
        {"limit": 0},
        {"limit": 101},
        {"before_seq": "x"},
        {"cursor": "bm90IGpzb24"},
    ):
        r = await client.get(url, params=bad, headers=bob.headers)
        assert r.status_code == 422, bad


async def test_a_resent_cid_is_stored_once(client, users):
    alice, bob = await users.make("alice"), await users.make("bob")
    await users.friends(alice, bob)
    conv = await direct(client, alice, bob)
    first = await send(client, alice, conv["id"], "once", cid="same")
    again = await send(client, alice, conv["id"], "once (edited)", cid="same")
    assert first == again
    other = await send(client, bob, conv["id"], "bob's", cid="same")
    assert other["seq"] == 2, "a cid is per sender"
    r = await client.get(f"/v1/conversations/{conv['id']}/messages", headers=bob.headers)
    assert [m["body"]["text"] for m in r.json()["items"]] == ["once", "bob's"]


@pytest.mark.parametrize(
    "body",
    [
        {"cid": "a", "body": {"kind": "text", "text": ""}},
        {"cid": "a", "body": {"kind": "text", "text": "   "}},
        {"cid": "a", "body": {"kind": "text", "text": "x" * 4001}},
        {"cid": "a", "body": {"kind": "image", "text": "x"}},
        {"cid": "", "body": {"kind": "text", "text": "x"}},
        {"cid": "a" * 65, "body": {"kind": "text", "text": "x"}},
        {"body": {"kind": "text", "text": "x"}},
    ],
)
async def test_bad_messages_are_422_and_store_nothing(client, users, body):
    alice, bob = await users.make("alice"), await users.make("bob")
    await users.friends(alice, bob)
    conv = await direct(client, alice, bob)
    r = await client.post(f"/v1/conversations/{conv['id']}/messages", json=body, headers=alice.headers)
    assert r.status_code == 422 and error_code(r) == "validation_error"
    r = await client.get(f"/v1/conversations/{conv['id']}/messages", headers=alice.headers)
    assert r.json()["items"] == []


async def test_text_of_exactly_the_limit_is_accepted(client, users):
    alice, bob = await users.make("alice"), await users.make("bob")
    await users.friends(alice, bob)
    conv = await direct(client, alice, bob)
    ack = await send(client, alice, conv["id"], "字" * 4000)
    assert ack["seq"] == 1


async def test_outsiders_see_and_change_nothing(client, users):
    alice, bob, mallory = await users.make("alice"), await users.make("bob"), await users.make("mallory")
    await users.friends(alice, bob)
    conv = await direct(client, alice, bob)
    await send(client, alice, conv["id"], "secret")
    cid = conv["id"]
    for method, url, body in [
        ("GET", f"/v1/conversations/{cid}", None),
        ("GET", f"/v1/conversations/{cid}/messages", None),
        ("POST", f"/v1/conversations/{cid}/messages", {"cid": "m", "body": {"kind": "text", "text": "hi"}}),
        ("POST", f"/v1/conversations/{cid}/read", {"seq": 1}),
        ("GET", "/v1/conversations/c_doesnotexist", None),
    ]:
        r = await client.request(method, url, json=body, headers=mallory.headers)
        assert r.status_code == 404 and error_code(r) == "not_found", (method, url)
        assert "secret" not in r.text
        r = await client.request(method, url, json=body)
        assert r.status_code == 401, (method, url)
    r = await client.get("/v1/conversations", headers=mallory.headers)
    assert r.json()["items"] == []
    r = await client.get("/v1/conversations")
    assert r.status_code == 401
    r = await client.post("/v1/conversations", json={"member_ids": [bob.id]})
    assert r.status_code == 401
    # Nothing changed for the members.
    r = await client.get(f"/v1/conversations/{cid}/messages", headers=bob.headers)
    assert [m["seq"] for m in r.json()["items"]] == [1]
    r = await client.get("/v1/conversations", headers=bob.headers)
    assert r.json()["items"][0]["unread_count"] == 1


async def test_one_conversation_shows_its_members_last_message_and_my_read_position(client, users, rt):
    alice, bob, carol = await users.make("alice"), await users.make("bob"), await users.make("carol")
    for friend in (bob, carol):
        await users.friends(alice, friend)
    r = await client.post(
        "/v1/conversations", json={"member_ids": [bob.id, carol.id], "title": "周末"}, headers=alice.headers
    )
    assert r.status_code == 201, r.text
    group = r.json()
    created = rt.clock.now()
    rt.clock.advance(60)
    await send(client, alice, group["id"], "早上好")
    rt.clock.advance(60)
    last = await send(client, bob, group["id"], "出发！")

    async def get(person, conversation_id=group["id"]):
        r = await client.get(f"/v1/conversations/{conversation_id}", headers=person.headers)
        assert r.status_code == 200, r.text
        return r.json()

    seen_by_alice = await get(alice)
    assert seen_by_alice["id"] == group["id"] and seen_by_alice["kind"] == "group"
    assert (seen_by_alice["title"], seen_by_alice["created_by"], seen_by_alice["peer"]) == (
        "周末",
        alice.id,
        None,
    )
    assert seen_by_alice["member_count"] == 3
    assert seen_by_alice["member_ids"] == sorted([alice.id, bob.id, carol.id])
    assert seen_by_alice["created_at"] == created.isoformat().replace("+00:00", "Z")
    seq = last["seq"]
    assert seen_by_alice["last_seq"] == seq
    lm = seen_by_alice["last_message"]
    assert (lm["id"], lm["seq"], lm["sender_id"], lm["kind"], lm["body"]) == (
        last["message_id"],
        seq,
        bob.id,
        "text",
        {"text": "出发！"},
    )
    assert seen_by_alice["last_message_at"] == lm["created_at"]
    # each member has a read position of their own: the sender has read up to her message
    assert (seen_by_alice["last_read_seq"], seen_by_alice["unread_count"]) == (seq - 1, 1)
    seen_by_carol = await get(carol)
    assert (seen_by_carol["last_read_seq"], seen_by_carol["unread_count"]) == (0, seq)
    assert {k: v for k, v in seen_by_carol.items() if k not in ("last_read_seq", "unread_count")} == {
        k: v for k, v in seen_by_alice.items() if k not in ("last_read_seq", "unread_count")
    }
    r = await client.post(f"/v1/conversations/{group['id']}/read", json={"seq": seq}, headers=carol.headers)
    assert r.status_code == 200, r.text
    assert ((await get(carol))["last_read_seq"], (await get(carol))["unread_count"]) == (seq, 0)
    assert (await get(alice))["unread_count"] == 1
    # a direct conversation names the other member
    one = await direct(client, alice, bob)
    seen = await get(bob, one["id"])
    assert (seen["kind"], seen["title"], seen["member_count"], seen["last_message"]) == (
        "direct",
        None,
        2,
        None,
    )
    assert seen["peer"] == {
        "id": alice.id,
        "user_id": alice.id,
        "display_name": "alice",
        "avatar_url": None,
        "badge": None,
    }
    assert seen["member_ids"] == sorted([alice.id, bob.id])
    # one not a member of it sees nothing of it
    r = await client.get(f"/v1/conversations/{one['id']}", headers=carol.headers)
    assert r.status_code == 404 and "alice" not in r.text
