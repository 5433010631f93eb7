"""Users who are not discoverable: anonymous to strangers on global boards, not found by id."""

from __future__ import annotations

from tests.support.people import error_code


async def _hide(client, p) -> None:
    r = await client.patch("/v1/me", json={"discoverable": False}, headers=p.headers)
    assert r.status_code == 200 and r.json()["discoverable"] is False


async def _walk(client, p, steps: int) -> None:
    r = await client.post("/v1/me/steps", json={"date": "2026-11-25", "steps": steps}, headers=p.headers)
    assert r.status_code == 200, r.text


async def test_a_hidden_user_is_anonymous_to_strangers_on_the_global_board(client, users):
    shy, friend, stranger = await users.make("shy"), await users.make("friend"), await users.make("stranger")
    await users.friends(shy, friend)
    for p, steps in ((shy, 9000), (friend, 5000), (stranger, 1000)):
        await _walk(client, p, steps)
    await _hide(client, shy)
    params = {"scope": "global", "period": "all"}
    seen = (await client.get("/v1/leaderboards/steps", params=params, headers=stranger.headers)).json()
    top = seen["items"][0]
    assert top == {
        "rank": 1,
        "user_id": None,
        "display_name": None,
        "badge": None,
        "score": 9000,
        "anonymous": True,
        "user": None,
    }
    assert shy.id not in str(seen) and "shy" not in str(seen)
    assert seen["items"][2]["user_id"] == stranger.id and seen["me"] == {"rank": 3, "score": 1000}
    for viewer in (friend, shy):  # friends and the user see the row as usual
        mine = (await client.get("/v1/leaderboards/steps", params=params, headers=viewer.headers)).json()
        assert mine["items"][0]["user_id"] == shy.id and mine["items"][0]["display_name"] == "shy"
        assert mine["items"][0]["anonymous"] is False


async def test_a_stranger_cannot_send_a_hidden_user_a_friend_request(client, users):
    shy, stranger, other = await users.make("shy"), await users.make("stranger"), await users.make("other")
    await _hide(client, shy)
    r = await client.post("/v1/friends/requests", json={"user_id": shy.id}, headers=stranger.headers)
    unknown = await client.post(
        "/v1/friends/requests", json={"user_id": "u_nobody"}, headers=stranger.headers
    )
    assert r.status_code == unknown.status_code == 404
    assert error_code(r) == "not_found" and r.json()["error"]["message"] == unknown.json()["error"]["message"]
    incoming = (await client.get("/v1/friends/requests", headers=shy.headers)).json()
    assert "stranger" not in str(incoming)
    # The hidden user may still ask; asking back is accepting.
    r = await client.post("/v1/friends/requests", json={"user_id": other.id}, headers=shy.headers)
    assert r.status_code == 201, r.text
    r = await client.post("/v1/friends/requests", json={"user_id": shy.id}, headers=other.headers)
    assert r.status_code == 201 and r.json()["status"] == "accepted", r.text
