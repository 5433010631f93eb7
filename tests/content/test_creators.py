from __future__ import annotations

from content.posts import creators
from games.leaderboards import scores
from tests.content.helpers import new_post


async def board(rt, period: str, at=None) -> dict[str, float]:
    key = scores.key(rt, "creators", period, at or rt.clock.now())
    return dict(await rt.redis.zrange(key, 0, -1, withscores=True))


async def test_likes_and_accepted_answers_score_and_unlike_subtracts(client, users, rt):
    asker, expert = await users.make("asker"), await users.make("expert")
    fans = [await users.make(f"fan{i}") for i in range(3)]
    p = await new_post(client, expert, text="基金定投心得")
    for f in fans:
        await client.post(f"/v1/posts/{p['id']}/like", headers=f.headers)
    await client.post(f"/v1/posts/{p['id']}/like", headers=fans[0].headers)  # repeat: no extra point
    await client.post(f"/v1/posts/{p['id']}/like", headers=expert.headers)  # own like: no point
    q = await new_post(client, asker, kind="question", text="怎么选基金？")
    a = (
        await client.post(f"/v1/posts/{q['id']}/comments", json={"text": "看费率"}, headers=expert.headers)
    ).json()
    await client.post(f"/v1/posts/{q['id']}/answers/{a['id']}/accept", headers=asker.headers)
    await client.post(f"/v1/posts/{q['id']}/answers/{a['id']}/accept", headers=asker.headers)  # idempotent
    for period in ("day", "week", "all"):
        assert (await board(rt, period)).get(expert.id) == 3 + 10, period
    liked_day = rt.clock.now()
    rt.clock.advance(2 * 24 * 3600)
    await client.delete(f"/v1/posts/{p['id']}/like", headers=fans[1].headers)
    # The take-back is subtracted where the like was counted (its day), not today.
    assert (await board(rt, "day", liked_day))[expert.id] == 12
    assert expert.id not in await board(rt, "day")
    assert (await board(rt, "all"))[expert.id] == 12
    # The database rebuild agrees with the live sets.
    rebuilt = await creators.rebuild_scores(rt)
    assert rebuilt[expert.id]["all:all"] == 12
    assert rebuilt[expert.id][f"day:{scores.bucket(rt, 'day', liked_day)}"] == 12
    assert asker.id not in rebuilt and expert.id != asker.id
    await rt.redis.delete(scores.key(rt, "creators", "all", rt.clock.now()))
    await creators.write_rebuilt(rt)
    assert (await board(rt, "all"))[expert.id] == 12
