from __future__ import annotations

import pytest

from games.leaderboards import boards, registry, scores
from tests.games.helpers import ripe_ball
from tests.support.clock import BEFORE_BANK_MIDNIGHT, ONE_MINUTE
from tests.support.people import error_code


async def _board(client, p, board, **params):
    r = await client.get(f"/v1/leaderboards/{board}", params=params, headers=p.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def _activity(client, rt, users):
    a, b, c, d = [await users.make(n) for n in ("a", "b", "c", "d")]
    await users.friends(a, b)
    await users.friends(a, c)
    today = "2026-11-25"  # the default start: 10:00 in Shanghai
    for p, steps in ((a, 5000), (b, 9000), (c, 1000), (d, 20000)):
        r = await client.post("/v1/me/steps", json={"date": today, "steps": steps}, headers=p.headers)
        assert r.status_code == 200
    ball = await ripe_ball(client, rt, a)
    await client.post(f"/v1/forest/balls/{ball['id']}/collect", headers=b.headers)
    await client.post(f"/v1/forest/balls/{ball['id']}/collect", headers=a.headers)
    return a, b, c, d


async def test_global_and_friends_boards_with_my_rank(client, rt, users):
    a, b, c, d = await _activity(client, rt, users)
    steps = await _board(client, a, "steps", scope="global", period="all")
    assert [(i["rank"], i["user_id"], i["score"]) for i in steps["items"]] == [
        (1, d.id, 20000),
        (2, b.id, 9000),
        (3, a.id, 5000),
        (4, c.id, 1000),
    ]
    assert steps["items"][0]["display_name"] == "d"
    assert steps["me"] == {"rank": 3, "score": 5000}
    friends = await _board(client, a, "steps", scope="friends", period="all")
    assert [i["user_id"] for i in friends["items"]] == [b.id, a.id, c.id]
    assert friends["me"] == {"rank": 2, "score": 5000}
    energy = await _board(client, a, "energy", scope="global", period="day")
    assert [(i["user_id"], i["score"]) for i in energy["items"]] == [(a.id, 236), (b.id, 26)]
    lonely = await _board(client, d, "energy", scope="friends", period="week")
    assert lonely["items"] == [] and lonely["me"] == {"rank": None, "score": 0}
    assert (await _board(client, a, "creators"))["items"] == []


async def test_bad_board_scope_or_period(client, rt, users):
    a = await users.make("a")
    r = await client.get("/v1/leaderboards/nope", headers=a.headers)
    assert r.status_code == 404 and error_code(r) == "not_found"
    for params in ({"scope": "world"}, {"period": "year"}, {"limit": 0}, {"limit": 101}):
        r = await client.get("/v1/leaderboards/energy", params=params, headers=a.headers)
        assert r.status_code == 422, params
    assert (await client.get("/v1/leaderboards/energy")).status_code == 401


async def test_a_rebuild_gives_the_same_boards(client, rt, users):
    a, b, c, d = await _activity(client, rt, users)
    # eggs too
    await client.post("/v1/farm/feed", headers=c.headers)
    await rt.advance_clock(4 * 3600)
    await client.post("/v1/farm/donate", json={"eggs": 1, "project_id": "flood_relief"}, headers=c.headers)
    snapshot = {}
    for board in ("energy", "steps", "eggs"):
        for period in ("day", "week", "all"):
            for viewer in (a, b, c, d):
                snapshot[(board, period, viewer.id)] = await _board(client, viewer, board, period=period)
    assert snapshot[("eggs", "all", c.id)]["me"]["score"] == 1
    now = rt.clock.now()
    for board in ("energy", "steps", "eggs"):
        for period in scores.PERIODS:
            await rt.redis.delete(scores.key(rt, board, period, now))
    assert (await _board(client, a, "steps", period="all"))["items"] == []
    counts = await boards.rebuild_all(rt)
    assert counts["steps"] == 4
    for (board, period, viewer_id), before in snapshot.items():
        viewer = next(p for p in (a, b, c, d) if p.id == viewer_id)
        assert await _board(client, viewer, board, period=period) == before, (board, period)


async def test_a_board_registered_by_another_feature_is_served_and_rebuilt(client, rt, users):
    a = await users.make("a")

    async def rebuild(rt):
        return {a.id: {"day": 3.0, "week": 5.0, "all": 7.0}}

    old = registry.get_board("creators")
    registry.register_board("creators", rebuild=rebuild)
    try:
        await boards.rebuild_all(rt)
        assert (await _board(client, a, "creators", period="all"))["me"] == {"rank": 1, "score": 7}
        await scores.add_score(rt, board="creators", user_id=a.id, delta=1, at=rt.clock.now())
        assert (await _board(client, a, "creators", period="week"))["me"]["score"] == 6
    finally:
        assert old is not None
        registry.BOARDS["creators"] = old


@pytest.mark.clock_start(BEFORE_BANK_MIDNIGHT)
async def test_day_boards_turn_over_in_the_bank_zone(client, rt, users):
    a = await users.make("a")
    # 23:59 on 25 November in Shanghai, 15:59 in UTC
    r = await client.post("/v1/me/steps", json={"date": "2026-11-25", "steps": 500}, headers=a.headers)
    assert r.status_code == 200, r.text
    assert (await _board(client, a, "steps", period="day"))["me"]["score"] == 500
    await rt.advance_clock(ONE_MINUTE)  # the 26th in Shanghai, still the 25th in UTC
    assert (await _board(client, a, "steps", period="day"))["me"] == {"rank": None, "score": 0}
    assert (await _board(client, a, "steps", period="week"))["me"]["score"] == 500
    assert (await _board(client, a, "steps", period="all"))["me"]["score"] == 500


async def test_boards_are_rebuilt_at_start_up_when_redis_is_empty(client, rt, users):
    """A restart on an empty Redis (the demo's in-process one) serves the same boards."""
    from app.main import create_app

    a, b, _, _ = await _activity(client, rt, users)
    before = await _board(client, a, "steps", scope="global", period="all")
    async for key in rt.redis.scan_iter(match=rt.keys("*")):
        await rt.redis.delete(key)
    assert (await _board(client, a, "steps", scope="global", period="all"))["items"] == []

    restarted = create_app(runtime=rt, run_jobs=False)
    async with restarted.router.lifespan_context(restarted):
        import httpx

        transport = httpx.ASGITransport(app=restarted)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as again:
            assert await _board(again, a, "steps", scope="global", period="all") == before
            energy = await _board(again, a, "energy", scope="friends", period="day")
            assert {i["user_id"] for i in energy["items"]} == {a.id, b.id}
