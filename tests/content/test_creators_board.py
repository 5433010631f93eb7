"""The creators board through the leaderboard API, live and after a rebuild."""

from __future__ import annotations

from games.leaderboards.registry import get_board


async def test_likes_rank_creators_and_survive_a_rebuild(client, rt, users):
    from games.leaderboards import boards as leaderboards

    author = await users.make("author")
    fans = [await users.make(f"fan{i}") for i in range(3)]
    r = await client.post(
        "/v1/posts", json={"kind": "post", "text": "定投三年的一点体会"}, headers=author.headers
    )
    assert r.status_code == 201, r.text
    post_id = r.json()["id"]
    for fan in fans:
        assert (await client.post(f"/v1/posts/{post_id}/like", headers=fan.headers)).status_code in (
            200,
            201,
            204,
        )
    live = (
        await client.get("/v1/leaderboards/creators?scope=global&period=week", headers=fans[0].headers)
    ).json()
    assert live["items"][0]["user_id"] == author.id
    assert live["items"][0]["score"] == 3
    assert get_board("creators").rebuild.__name__ == "current_scores"
    await leaderboards.rebuild_all(rt)
    rebuilt = (
        await client.get("/v1/leaderboards/creators?scope=global&period=week", headers=fans[0].headers)
    ).json()
    assert rebuilt["items"] == live["items"]
