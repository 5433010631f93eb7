"""Issue 14 item 16: one shape per concept — every list is ``{items, next_cursor}``,
leaderboard scores are integers, a post's ``flags`` is always a list, and a wrong method
on a known path is a 405 (not a 404)."""

from __future__ import annotations

from typing import Any


def response_schema(op: dict[str, Any]) -> dict[str, Any] | None:
    for status, response in op["responses"].items():
        if status.startswith("2"):
            return response.get("content", {}).get("application/json", {}).get("schema")
    return None


async def test_no_operation_answers_a_bare_array(app):
    bare = [
        (method, path)
        for path, ops in app.openapi()["paths"].items()
        for method, op in ops.items()
        if (response_schema(op) or {}).get("type") == "array"
    ]
    assert bare == []


async def test_suggestions_matches_and_blocks_are_pages(client, users):
    alice, bob = await users.make("alice"), await users.make("bob")
    await client.post(f"/v1/blocks/{bob.id}", headers=alice.headers)
    for path in ("/v1/friends/suggestions", "/v1/contacts/matches", "/v1/blocks"):
        r = await client.get(path, headers=alice.headers)
        assert r.status_code == 200, (path, r.text)
        assert set(r.json()) == {"items", "next_cursor"} and r.json()["next_cursor"] is None, path
    assert [
        b["user_id"] for b in (await client.get("/v1/blocks", headers=alice.headers)).json()["items"]
    ] == [bob.id]


async def test_leaderboard_scores_are_integers(client, users):
    a = await users.make("a")
    r = await client.post("/v1/me/steps", json={"date": "2026-11-25", "steps": 5000}, headers=a.headers)
    assert r.status_code == 200, r.text
    board = (await client.get("/v1/leaderboards/steps", params={"period": "all"}, headers=a.headers)).json()
    assert board["items"] and all(type(i["score"]) is int for i in board["items"]), board
    assert type(board["me"]["score"]) is int and board["me"]["score"] == 5000


async def test_post_flags_are_always_a_list(client, users):
    author, reader = await users.make("author"), await users.make("reader")
    r = await client.post("/v1/posts", json={"kind": "post", "text": "hello"}, headers=author.headers)
    assert r.status_code == 201, r.text
    for who in (author, reader):
        got = await client.get(f"/v1/posts/{r.json()['id']}", headers=who.headers)
        assert got.json()["flags"] == [], got.json()


async def test_a_wrong_method_is_a_405_with_allow(client, users):
    alice = await users.make("alice")
    r = await client.put("/v1/me", json={}, headers=alice.headers)
    assert r.status_code == 405, r.text
    assert r.json()["error"]["code"] == "method_not_allowed"
    assert set(r.headers["allow"].replace(" ", "").split(",")) == {"GET", "PATCH", "DELETE"}
    assert (await client.get("/v1/nothing-here", headers=alice.headers)).status_code == 404


async def test_allow_names_the_most_literal_template_where_paths_overlap(client, users):
    """``/v1/friends/requests`` also matches ``/v1/friends/{user_id}`` (DELETE): its Allow is
    what the OpenAPI document says of that path, not the union of both templates."""
    alice = await users.make("alice")
    r = await client.put("/v1/friends/requests", json={}, headers=alice.headers)
    assert r.status_code == 405, r.text
    assert set(r.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    r = await client.put("/v1/friends/u_someone", json={}, headers=alice.headers)
    assert set(r.headers["allow"].replace(" ", "").split(",")) == {"DELETE"}
