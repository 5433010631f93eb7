from __future__ import annotations

import pytest

from tests.support.people import error_code


async def request(client, a, b, message=None):
    return await client.post(
        "/v1/friends/requests", json={"user_id": b.id, "message": message}, headers=a.headers
    )


async def friend_list(client, p):
    r = await client.get("/v1/friends", headers=p.headers)
    assert r.status_code == 200
    return [f["user_id"] for f in r.json()["items"]]


async def kinds(client, p):
    r = await client.get("/v1/notifications", headers=p.headers)
    return [n["kind"] for n in r.json()["items"]]


async def test_request_accept_makes_mutual_friends_and_notifies(client, users):
    alice, bob = await users.make("alice"), await users.make("bob")
    r = await request(client, alice, bob, "hi, it's Alice from the office")
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["status"] == "pending" and req["direction"] == "outgoing"
    assert req["user"]["id"] == bob.id
    assert "friend_request" in await kinds(client, bob)
    incoming = (await client.get("/v1/friends/requests", headers=bob.headers)).json()["items"]
    assert [(i["id"], i["direction"], i["message"]) for i in incoming] == [
        (req["id"], "incoming", "hi, it's Alice from the office")
    ]
    outgoing = (await client.get("/v1/friends/requests?direction=outgoing", headers=alice.headers)).json()
    assert [i["id"] for i in outgoing["items"]] == [req["id"]]
    r = await client.post(f"/v1/friends/requests/{req['id']}/accept", headers=bob.headers)
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    assert await friend_list(client, alice) == [bob.id]
    assert await friend_list(client, bob) == [alice.id]
    assert "friend_accepted" in await kinds(client, alice)
    # no longer pending, on either side
    assert (await client.get("/v1/friends/requests", headers=bob.headers)).json()["items"] == []
    r = await client.post(f"/v1/friends/requests/{req['id']}/accept", headers=bob.headers)
    assert r.status_code == 409 and error_code(r) == "conflict"
    # and a new request between friends is a conflict
    assert (await request(client, bob, alice)).status_code == 409


async def test_decline_and_cancel(client, users):
    alice, bob = await users.make("alice"), await users.make("bob")
    req = (await request(client, alice, bob)).json()
    r = await client.post(f"/v1/friends/requests/{req['id']}/decline", headers=bob.headers)
    assert r.json()["status"] == "declined"
    assert await friend_list(client, alice) == []
    # Declined: a new request may be sent; the sender cancels it.
    req2 = (await request(client, alice, bob)).json()
    assert req2["id"] != req["id"]
    assert (await request(client, alice, bob)).status_code == 409  # one pending per pair
    r = await client.post(f"/v1/friends/requests/{req2['id']}/cancel", headers=alice.headers)
    assert r.json()["status"] == "cancelled"
    assert (await client.get("/v1/friends/requests", headers=bob.headers)).json()["items"] == []


async def test_crossing_requests_become_a_friendship(client, users):
    alice, bob = await users.make("alice"), await users.make("bob")
    await request(client, alice, bob)
    r = await request(client, bob, alice)
    assert r.status_code == 201 and r.json()["status"] == "accepted"
    assert await friend_list(client, alice) == [bob.id]


async def test_only_the_right_party_may_decide(client, users):
    alice, bob, eve = await users.make("alice"), await users.make("bob"), await users.make("eve")
    req = (await request(client, alice, bob)).json()
    for who, action in [
        (alice, "accept"),
        (alice, "decline"),
        (bob, "cancel"),
        (eve, "accept"),
        (eve, "cancel"),
    ]:
        r = await client.post(f"/v1/friends/requests/{req['id']}/{action}", headers=who.headers)
        assert r.status_code == 404, (who.user.display_name, action)
    # eve sees none of it
    assert (await client.get("/v1/friends/requests", headers=eve.headers)).json()["items"] == []
    assert (
        await client.post(f"/v1/friends/requests/{req['id']}/bogus", headers=bob.headers)
    ).status_code == 404  # no such action: no such route
    assert (await client.post("/v1/friends/requests/nope/accept", headers=bob.headers)).status_code == 404
    # still pending
    assert len((await client.get("/v1/friends/requests", headers=bob.headers)).json()["items"]) == 1


async def test_bad_requests(client, users):
    alice = await users.make("alice")
    r = await client.post("/v1/friends/requests", json={"user_id": alice.id}, headers=alice.headers)
    assert r.status_code == 422
    r = await client.post("/v1/friends/requests", json={"user_id": "u_nobody"}, headers=alice.headers)
    assert r.status_code == 404
    r = await client.post(
        "/v1/friends/requests", json={"user_id": "x", "message": "m" * 201}, headers=alice.headers
    )
    assert r.status_code == 422
    assert (await client.post("/v1/friends/requests", json={}, headers=alice.headers)).status_code == 422


async def test_unfriend(client, users):
    alice, bob, eve = await users.make("alice"), await users.make("bob"), await users.make("eve")
    await users.friends(alice, bob)
    assert (await client.delete(f"/v1/friends/{bob.id}", headers=eve.headers)).status_code == 404
    assert await friend_list(client, alice) == [bob.id]
    assert (await client.delete(f"/v1/friends/{bob.id}", headers=alice.headers)).status_code == 204
    assert await friend_list(client, bob) == []
    assert (await client.delete(f"/v1/friends/{bob.id}", headers=alice.headers)).status_code == 404


async def test_block_ends_friendship_and_requests_and_stops_new_ones(client, users):
    alice, bob, carol = await users.make("alice"), await users.make("bob"), await users.make("carol")
    await users.friends(alice, bob)
    req = (await request(client, carol, alice)).json()
    assert (await client.post(f"/v1/blocks/{bob.id}", headers=alice.headers)).status_code == 201
    assert (await client.post(f"/v1/blocks/{bob.id}", headers=alice.headers)).status_code == 201  # idempotent
    assert (await client.post(f"/v1/blocks/{carol.id}", headers=alice.headers)).status_code == 201
    assert await friend_list(client, alice) == []
    r = await client.post(f"/v1/friends/requests/{req['id']}/accept", headers=alice.headers)
    assert r.status_code == 409  # cancelled by the block
    # neither side can send a request
    assert (await request(client, bob, alice)).status_code == 404
    assert (await request(client, alice, bob)).status_code == 404
    blocks = (await client.get("/v1/blocks", headers=alice.headers)).json()["items"]
    assert sorted(b["user_id"] for b in blocks) == sorted([bob.id, carol.id])
    # bob cannot see or lift alice's block
    assert (await client.get("/v1/blocks", headers=bob.headers)).json() == {"items": [], "next_cursor": None}
    assert (await client.delete(f"/v1/blocks/{bob.id}", headers=bob.headers)).status_code == 404
    assert (await client.delete(f"/v1/blocks/{bob.id}", headers=alice.headers)).status_code == 204
    assert (await request(client, bob, alice)).status_code == 201
    assert (await client.post(f"/v1/blocks/{alice.id}", headers=alice.headers)).status_code == 422
    assert (await client.post("/v1/blocks/u_nobody", headers=alice.headers)).status_code == 404


async def test_friend_request_rate_limit(client, users, rt):
    rt.settings.friend_requests_per_day = 2
    alice = await users.make("alice")
    others = [await users.make(f"o{i}") for i in range(3)]
    assert (await request(client, alice, others[0])).status_code == 201
    assert (await request(client, alice, others[1])).status_code == 201
    r = await request(client, alice, others[2])
    assert r.status_code == 429 and "Retry-After" in r.headers


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/v1/friends"),
        ("GET", "/v1/friends/suggestions"),
        ("POST", "/v1/friends/requests"),
        ("GET", "/v1/friends/requests"),
        ("POST", "/v1/friends/requests/x/accept"),
        ("POST", "/v1/friends/requests/x/decline"),
        ("POST", "/v1/friends/requests/x/cancel"),
        ("DELETE", "/v1/friends/x"),
        ("GET", "/v1/blocks"),
        ("POST", "/v1/blocks/x"),
        ("DELETE", "/v1/blocks/x"),
    ],
)
async def test_friend_endpoints_need_a_token(client, method, path):
    r = await client.request(method, path, json={"user_id": "x"} if method == "POST" else None)
    assert r.status_code == 401
