from __future__ import annotations

from datetime import timedelta

import anyio
import pytest

from tests.games.helpers import assert_energy_conserved, event, ripe_ball, service_headers, spend
from tests.support.clock import BEFORE_BANK_MIDNIGHT, ONE_MINUTE
from tests.support.people import error_code


@pytest.fixture
def settings(settings):
    """A smaller pool (8 + 16 overflow): 50 concurrent collectors still contend on the ball's
    row, and the run stays well inside a PostgreSQL server shared with other test runs."""
    return settings.model_copy(update={"db_pool_size": 8})


async def test_a_ball_ripens_after_24h_and_the_owner_collects_it(client, rt, users):
    li = await users.make("li")
    await spend(client, rt, [event(li.id, "bill_payment", at=rt.clock.now())])
    forest = (await client.get("/v1/forest", headers=li.headers)).json()
    [ball] = forest["balls"]
    assert (ball["source"], ball["amount_g"], ball["remaining_g"], ball["state"]) == (
        "bill_payment",
        262,
        262,
        "growing",
    )
    r = await client.post(f"/v1/forest/balls/{ball['id']}/collect", headers=li.headers)
    assert r.status_code == 409 and r.json()["error"]["details"]["reason"] == "not_ripe"
    await rt.advance_clock(24 * 3600 + 1)
    r = await client.post(f"/v1/forest/balls/{ball['id']}/collect", headers=li.headers)
    assert r.status_code == 200, r.text
    assert r.json()["collected_g"] == 262
    forest = (await client.get("/v1/forest", headers=li.headers)).json()
    assert forest["energy_g"] == 262 and forest["balls"] == [] and forest["today_g"] == 262
    r = await client.post(f"/v1/forest/balls/{ball['id']}/collect", headers=li.headers)
    assert r.status_code == 409
    await assert_energy_conserved(rt)


async def test_an_expired_ball_is_lost(client, rt, users):
    li = await users.make("li")
    ball = await ripe_ball(client, rt, li)
    await rt.advance_clock(72 * 3600)
    r = await client.post(f"/v1/forest/balls/{ball['id']}/collect", headers=li.headers)
    assert r.status_code == 410 and error_code(r) == "expired"
    assert (await client.get("/v1/forest", headers=li.headers)).json()["balls"] == []


async def test_a_friend_collects_once_and_friends_take_at_most_half(client, rt, users):
    owner = await users.make("owner")
    pals = [await users.make(f"pal{i}") for i in range(7)]
    for p in pals:
        await users.friends(owner, p)
    ball = await ripe_ball(client, rt, owner)  # 262 g: friends' cap 131 g, 26 g each
    taken = []
    for p in pals:
        r = await client.post(f"/v1/forest/balls/{ball['id']}/collect", headers=p.headers)
        taken.append(r.json()["collected_g"] if r.status_code == 200 else error_code(r))
    assert taken == [26, 26, 26, 26, 26, 1, "sold_out"]
    again = await client.post(f"/v1/forest/balls/{ball['id']}/collect", headers=pals[0].headers)
    assert again.status_code == 409
    r = await client.post(f"/v1/forest/balls/{ball['id']}/collect", headers=owner.headers)
    assert r.json()["collected_g"] == 262 - 131
    notes = (await client.get("/v1/notifications", headers=owner.headers)).json()["items"]
    assert sum(1 for n in notes if n["kind"] == "energy_stolen") == 6
    await assert_energy_conserved(rt)


async def test_fifty_friends_at_once_never_take_more_than_the_share(client, rt, users):
    owner = await users.make("owner")
    pals = [await users.make(f"pal{i}") for i in range(50)]
    for p in pals:
        await users.friends(owner, p)
    ball = await ripe_ball(client, rt, owner)
    results: list[int] = []

    async def grab(p):
        r = await client.post(f"/v1/forest/balls/{ball['id']}/collect", headers=p.headers)
        assert r.status_code in (200, 409), r.text
        if r.status_code == 200:
            results.append(r.json()["collected_g"])

    async with anyio.create_task_group() as tg:
        for p in pals:
            tg.start_soon(grab, p)
    assert sum(results) == 262 * 50 // 100
    await assert_energy_conserved(rt)


async def test_a_non_friend_can_neither_collect_nor_water(client, rt, users):
    owner = await users.make("owner")
    stranger = await users.make("stranger")
    ball = await ripe_ball(client, rt, owner)
    r = await client.post(f"/v1/forest/balls/{ball['id']}/collect", headers=stranger.headers)
    assert r.status_code == 404
    r = await client.post(
        f"/v1/forest/friends/{owner.id}/water", json={"grams": 10}, headers=stranger.headers
    )
    assert r.status_code == 404
    assert (await client.get("/v1/forest", headers=owner.headers)).json()["balls"][0]["remaining_g"] == 262


async def test_protection_blocks_friends_but_not_the_owner(client, rt, users):
    owner = await users.make("owner")
    pal = await users.make("pal")
    await users.friends(owner, pal)
    ball = await ripe_ball(client, rt, owner)
    r = await client.post("/v1/forest/protect", headers=owner.headers)
    assert r.status_code == 200
    assert (await client.post("/v1/forest/protect", headers=owner.headers)).status_code == 409
    r = await client.post(f"/v1/forest/balls/{ball['id']}/collect", headers=pal.headers)
    assert r.status_code == 409 and r.json()["error"]["details"]["reason"] == "protected"
    friends = (await client.get("/v1/forest/friends", headers=pal.headers)).json()["items"]
    assert friends[0]["collectable_g"] == 0 and friends[0]["protected_until"]
    await rt.advance_clock(24 * 3600)
    r = await client.post(f"/v1/forest/balls/{ball['id']}/collect", headers=pal.headers)
    assert r.status_code == 200


async def test_friends_list_shows_collectable_energy(client, rt, users):
    owner = await users.make("owner")
    pal = await users.make("pal")
    await users.friends(owner, pal)
    await ripe_ball(client, rt, owner)
    [item] = (await client.get("/v1/forest/friends", headers=pal.headers)).json()["items"]
    assert item["user_id"] == owner.id and item["collectable_g"] == 26


# ripe_ball moves the clock 24 h 1 s: the watering happens at 23:59 in Shanghai (15:59 UTC)
@pytest.mark.clock_start(BEFORE_BANK_MIDNIGHT - timedelta(hours=24, seconds=1))
async def test_watering_moves_energy_as_a_ball_the_friend_collects(client, rt, users):
    a = await users.make("a")
    b = await users.make("b")
    await users.friends(a, b)
    ball = await ripe_ball(client, rt, a)
    await client.post(f"/v1/forest/balls/{ball['id']}/collect", headers=a.headers)
    r = await client.post(f"/v1/forest/friends/{b.id}/water", json={"grams": 15}, headers=a.headers)
    assert r.status_code == 422
    for _ in range(3):
        r = await client.post(f"/v1/forest/friends/{b.id}/water", json={"grams": 66}, headers=a.headers)
        assert r.status_code == 200, r.text
    r = await client.post(f"/v1/forest/friends/{b.id}/water", json={"grams": 10}, headers=a.headers)
    assert r.status_code == 409 and error_code(r) == "limit_exceeded"
    assert (await client.get("/v1/forest", headers=a.headers)).json()["energy_g"] == 262 - 198
    forest_b = (await client.get("/v1/forest", headers=b.headers)).json()
    assert [x["source"] for x in forest_b["balls"]] == ["water"] * 3
    # a watered ball is for the friend only: another friend cannot take from it
    c = await users.make("c")
    await users.friends(b, c)
    r = await client.post(f"/v1/forest/balls/{forest_b['balls'][0]['id']}/collect", headers=c.headers)
    assert r.status_code == 409
    for x in forest_b["balls"]:
        assert (
            await client.post(f"/v1/forest/balls/{x['id']}/collect", headers=b.headers)
        ).status_code == 200
    assert (await client.get("/v1/forest", headers=b.headers)).json()["energy_g"] == 198
    kinds = [n["kind"] for n in (await client.get("/v1/notifications", headers=b.headers)).json()["items"]]
    assert kinds.count("watered") == 3
    # a minute later the bank's day turns (not UTC's): watering is allowed again (but a has
    # only 64 g left)
    assert rt.clock.now() == BEFORE_BANK_MIDNIGHT
    await rt.advance_clock(ONE_MINUTE)
    r = await client.post(f"/v1/forest/friends/{b.id}/water", json={"grams": 66}, headers=a.headers)
    assert r.status_code == 409 and error_code(r) == "insufficient_funds"
    await assert_energy_conserved(rt)


async def test_planting_spends_energy_held_and_issues_a_certificate(client, rt, users):
    li = await users.make("li")
    species = (await client.get("/v1/forest/species", headers=li.headers)).json()["items"]
    assert len(species) >= 6 and {"saxaul", "red_willow", "camphor"} <= {s["id"] for s in species}
    r = await client.post("/v1/forest/plant", json={"species_id": "saxaul"}, headers=li.headers)
    assert r.status_code == 409 and error_code(r) == "insufficient_funds"
    await _give_energy(rt, li.id, 20_000)
    r = await client.post("/v1/forest/plant", json={"species_id": "saxaul"}, headers=li.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["energy_g"] == 20_000 - 17_900
    assert body["certificate_url"] == f"/v1/forest/trees/{body['tree_id']}/certificate.png"
    forest = (await client.get("/v1/forest", headers=li.headers)).json()
    assert [t["species_id"] for t in forest["planted"]] == ["saxaul"]
    r = await client.post("/v1/forest/plant", json={"species_id": "nope"}, headers=li.headers)
    assert r.status_code == 404
    kinds = [n["kind"] for n in (await client.get("/v1/notifications", headers=li.headers)).json()["items"]]
    assert "tree_planted" in kinds


async def _give_energy(rt, user_id: str, grams: int) -> None:
    from app.db import transaction
    from games.forest import service as forest

    async with rt.sessionmaker() as db, transaction(db):
        await forest.credit(db, user_id=user_id, grams=grams)


async def test_a_grove_is_planted_when_friends_meet_the_cost(client, rt, users):
    a = await users.make("a")
    b = await users.make("b")
    stranger = await users.make("s")
    await users.friends(a, b)
    await _give_energy(rt, a.id, 10_000)
    await _give_energy(rt, b.id, 10_000)
    await _give_energy(rt, stranger.id, 10_000)
    grove = (await client.post("/v1/forest/groves", json={"species_id": "saxaul"}, headers=a.headers)).json()
    gid = grove["id"]
    r = await client.post(
        f"/v1/forest/groves/{gid}/contribute", json={"grams": 100}, headers=stranger.headers
    )
    assert r.status_code == 404
    r = await client.post(f"/v1/forest/groves/{gid}/contribute", json={"grams": 9_000}, headers=a.headers)
    assert r.json()["raised_g"] == 9_000 and r.json()["tree_id"] is None
    r = await client.post(f"/v1/forest/groves/{gid}/contribute", json={"grams": 10_000}, headers=b.headers)
    body = r.json()
    assert body["contributed_g"] == 8_900 and body["raised_g"] == 17_900 and body["tree_id"]
    assert (await client.get("/v1/forest", headers=b.headers)).json()["energy_g"] == 1_100
    assert [t["grove_id"] for t in (await client.get("/v1/forest", headers=a.headers)).json()["planted"]] == [
        gid
    ]
    r = await client.post(f"/v1/forest/groves/{gid}/contribute", json={"grams": 1}, headers=b.headers)
    assert r.status_code == 409 and error_code(r) == "sold_out"


async def test_a_grove_shows_its_progress_to_the_starter_and_friends(client, rt, users):
    a, b, stranger = await users.make("a"), await users.make("b"), await users.make("s")
    await users.friends(a, b)
    for p in (a, b):
        await _give_energy(rt, p.id, 10_000)
    r = await client.post("/v1/forest/groves", json={"species_id": "saxaul"}, headers=a.headers)
    assert r.status_code == 201, r.text
    gid = r.json()["id"]

    async def seen_by(p) -> dict:
        r = await client.get(f"/v1/forest/groves/{gid}", headers=p.headers)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    fresh = {
        "id": gid,
        "creator_id": a.id,
        "species_id": "saxaul",
        "cost_g": 17_900,
        "raised_g": 0,
        "tree_id": None,
        "completed_at": None,
        "contributed_g": None,
    }
    assert await seen_by(a) == fresh and await seen_by(b) == fresh
    r = await client.post(f"/v1/forest/groves/{gid}/contribute", json={"grams": 9_000}, headers=b.headers)
    assert r.status_code == 200, r.text
    assert await seen_by(a) == {**fresh, "raised_g": 9_000}
    rt.clock.advance(3600)
    r = await client.post(f"/v1/forest/groves/{gid}/contribute", json={"grams": 9_000}, headers=a.headers)
    assert r.status_code == 200 and r.json()["contributed_g"] == 8_900
    done = await seen_by(b)
    assert done["raised_g"] == 17_900 and done["tree_id"] == r.json()["tree_id"] is not None
    assert done["completed_at"] == "2026-11-25T03:00:00Z"
    assert done == await seen_by(a)
    # not the starter's friend, or no such grove: nothing to see
    for p, path in ((stranger, f"/v1/forest/groves/{gid}"), (a, "/v1/forest/groves/g_nope")):
        r = await client.get(path, headers=p.headers)
        assert r.status_code == 404 and error_code(r) == "not_found" and "saxaul" not in r.text


async def test_forest_endpoints_need_a_token_and_keep_private_data_private(client, rt, users):
    a = await users.make("a")
    b = await users.make("b")
    await _give_energy(rt, a.id, 20_000)
    tree_id = (
        await client.post("/v1/forest/plant", json={"species_id": "saxaul"}, headers=a.headers)
    ).json()["tree_id"]
    grove = (await client.post("/v1/forest/groves", json={"species_id": "saxaul"}, headers=a.headers)).json()
    ball = await ripe_ball(client, rt, a)
    anonymous = [
        ("GET", "/v1/forest", None),
        ("POST", f"/v1/forest/balls/{ball['id']}/collect", None),
        ("GET", "/v1/forest/friends", None),
        ("POST", f"/v1/forest/friends/{a.id}/water", {"grams": 10}),
        ("POST", "/v1/forest/protect", None),
        ("GET", "/v1/forest/species", None),
        ("POST", "/v1/forest/plant", {"species_id": "saxaul"}),
        ("GET", f"/v1/forest/trees/{tree_id}/certificate.png", None),
        ("GET", "/v1/forest/widget.png", None),
        ("POST", "/v1/forest/groves", {"species_id": "saxaul"}),
        ("GET", f"/v1/forest/groves/{grove['id']}", None),
        ("POST", f"/v1/forest/groves/{grove['id']}/contribute", {"grams": 10}),
        ("POST", "/v1/events/spending", {"events": [event(a.id)]}),
        ("POST", "/v1/me/steps", {"date": rt.clock.today().isoformat(), "steps": 100}),
    ]
    for method, path, body in anonymous:
        r = await client.request(method, path, json=body)
        assert r.status_code == 401, (path, r.status_code)
    # another user's token: nothing of a's is shown or changed
    for method, path, body in [
        ("POST", f"/v1/forest/balls/{ball['id']}/collect", None),
        ("GET", f"/v1/forest/trees/{tree_id}/certificate.png", None),
        ("GET", f"/v1/forest/groves/{grove['id']}", None),
        ("POST", f"/v1/forest/groves/{grove['id']}/contribute", {"grams": 10}),
        ("POST", f"/v1/forest/friends/{a.id}/water", {"grams": 10}),
    ]:
        r = await client.request(method, path, json=body, headers=b.headers)
        assert r.status_code == 404, (path, r.status_code)
    mine = (await client.get("/v1/forest", headers=b.headers)).json()
    assert mine["user_id"] == b.id and mine["balls"] == [] and mine["planted"] == []
    # a user token is not a service token
    r = await client.post("/v1/events/spending", json={"events": [event(a.id)]}, headers=b.headers)
    assert r.status_code == 401
    forest_a = (await client.get("/v1/forest", headers=a.headers)).json()
    assert forest_a["balls"][0]["remaining_g"] == 262 and forest_a["energy_g"] == 20_000 - 17_900
    assert len(forest_a["balls"]) == 1
    # the bank's service token is: the same event is accepted and grows a's second ball
    r = await client.post(
        "/v1/events/spending",
        json={"events": [event(a.id, at=rt.clock.now())]},
        headers=service_headers(rt),
    )
    assert r.status_code == 200 and (r.json()["accepted"], r.json()["energy_balls"]) == (1, 1)
    assert len((await client.get("/v1/forest", headers=a.headers)).json()["balls"]) == 2
