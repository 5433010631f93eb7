"""The creators board through the leaderboard API, live and after a rebuild."""

from __future__ import annotations

from games.leaderboards import scores


async def test_likes_rank_creators_and_survive_a_rebuild(client, rt, users):
    from games.leaderboards import boards as leaderboards

    author = await users.make("author")
    fans = [await users.make(f"fan{i}") for i in range(3)]
    r = await client.post(
        "/v1/posts", json={"kind": "post", "text": "定投三年的一点体会"}, headers=author.headers
    )
    assert r.status_code == 201, r.text
    post_id = r.json()["id"]
    for n, fan in enumerate(fans, start=1):
        r = await client.post(f"/v1/posts/{post_id}/like", headers=fan.headers)
        assert r.status_code == 200, r.text
        assert r.json() == {"post_id": post_id, "liked": True, "like_count": n}

    async def board() -> dict:
        r = await client.get("/v1/leaderboards/creators?scope=global&period=week", headers=fans[0].headers)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    live = await board()
    assert [(i["rank"], i["user_id"], i["score"]) for i in live["items"]] == [(1, author.id, 3)]
    # Lose the live board (a Redis flush): the rebuild recomputes it from the likes stored
    # in the database, so content registered a real rebuild, not the empty default.
    for period in scores.PERIODS:
        await rt.redis.delete(scores.key(rt, "creators", period, rt.clock.now()))
    assert (await board())["items"] == []
    counts = await leaderboards.rebuild_all(rt)
    assert counts["creators"] == 1
    assert (await board())["items"] == live["items"]
