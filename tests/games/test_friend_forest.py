"""A friend's forest: their balls with ids and what I may take, their protection; friends only."""

from __future__ import annotations

from tests.games.helpers import event, ripe_ball, spend
from tests.support.people import error_code


async def test_i_see_a_friends_ripe_ball_and_collect_it(client, rt, users):
    owner, pal = await users.make("owner"), await users.make("pal")
    await users.friends(owner, pal)
    ripe = await ripe_ball(client, rt, owner)
    await spend(client, rt, [event(owner.id, "transit", at=rt.clock.now())])  # a growing one too
    r = await client.get(f"/v1/forest/friends/{owner.id}", headers=pal.headers)
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["user_id"] == owner.id and view["display_name"] == "owner" and view["protected_until"] is None
    by_state = {b["state"]: b for b in view["balls"]}
    ball = by_state["ripe"]
    assert ball["id"] == ripe["id"] and ball["amount_g"] == 262 and ball["collected_by_me"] is False
    assert ball["can_take_g"] > 0 and by_state["growing"]["can_take_g"] == 0
    assert view["collectable_g"] == ball["can_take_g"]
    listed = (await client.get("/v1/forest/friends", headers=pal.headers)).json()["items"]
    assert listed[0]["collectable_g"] == view["collectable_g"]

    took = await client.post(f"/v1/forest/balls/{ball['id']}/collect", headers=pal.headers)
    assert took.status_code == 200 and took.json()["collected_g"] == ball["can_take_g"]
    after = (await client.get(f"/v1/forest/friends/{owner.id}", headers=pal.headers)).json()
    mine = next(b for b in after["balls"] if b["id"] == ball["id"])
    assert mine["collected_by_me"] is True and mine["can_take_g"] == 0 and after["collectable_g"] == 0


async def test_protection_shows_and_nothing_is_takeable(client, rt, users):
    owner, pal = await users.make("owner"), await users.make("pal")
    await users.friends(owner, pal)
    await ripe_ball(client, rt, owner)
    assert (await client.post("/v1/forest/protect", headers=owner.headers)).status_code == 200
    view = (await client.get(f"/v1/forest/friends/{owner.id}", headers=pal.headers)).json()
    assert view["protected_until"] and view["collectable_g"] == 0
    assert all(b["can_take_g"] == 0 for b in view["balls"]) and view["balls"]


async def test_only_friends_see_a_forest(client, rt, users):
    owner, stranger = await users.make("owner"), await users.make("stranger")
    await ripe_ball(client, rt, owner)
    for target in (owner.id, "u_nobody", stranger.id):
        r = await client.get(f"/v1/forest/friends/{target}", headers=stranger.headers)
        assert r.status_code == 404 and error_code(r) == "not_found", target
    assert (await client.get(f"/v1/forest/friends/{owner.id}")).status_code == 401
