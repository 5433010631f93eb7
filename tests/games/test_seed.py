from __future__ import annotations

from app import seed as seeding
from app.auth import tokens
from tests.games.helpers import assert_energy_conserved


async def test_li_na_sees_her_forest_farm_and_boards_at_once(client, rt):
    ctx = await seeding.run(rt)
    headers = {"Authorization": f"Bearer {tokens.issue(rt.settings, ctx.users['lina'].id)}"}
    forest = (await client.get("/v1/forest", headers=headers)).json()
    states = {b["state"] for b in forest["balls"]}
    assert {"ripe", "growing"} <= states and forest["planted"] and forest["energy_g"] > 0
    friends = (await client.get("/v1/forest/friends", headers=headers)).json()["items"]
    assert any(f["collectable_g"] > 0 for f in friends)
    farm = (await client.get("/v1/farm", headers=headers)).json()
    assert farm["state"] == "eating" and farm["thief"] is not None
    assert (await client.get("/v1/farm/quiz", headers=headers)).json()["question"]
    board = (await client.get("/v1/leaderboards/energy", headers=headers)).json()
    assert board["items"] and board["me"]["rank"] is not None
    await assert_energy_conserved(rt)
    await seeding.run(rt)  # a second run changes nothing
    assert (await client.get("/v1/forest", headers=headers)).json()["energy_g"] == forest["energy_g"]


async def test_the_demo_has_a_campaign_li_na_may_use_and_wang_wei_used(client, rt):
    ctx = await seeding.run(rt)
    lina = {"Authorization": f"Bearer {tokens.issue(rt.settings, ctx.users['lina'].id)}"}
    wangwei = {"Authorization": f"Bearer {tokens.issue(rt.settings, ctx.users['wangwei'].id)}"}
    mine = (await client.get("/v1/campaigns", headers=lina)).json()["items"]
    assert [(c["name"], c["uses_left"]) for c in mine] == [("银联卡满100减10", 1)]
    his = (await client.get("/v1/campaigns", headers=wangwei)).json()["items"]
    assert his[0]["uses_left"] == 0
    notes = (await client.get("/v1/notifications", headers=wangwei)).json()["items"]
    assert any(n["kind"] == "campaign_discount" and n["data"]["discount_fen"] == 1_000 for n in notes)


async def test_the_demo_has_rights_and_li_na_holds_a_free_coffee_voucher(client, rt):
    ctx = await seeding.run(rt)
    lina = {"Authorization": f"Bearer {tokens.issue(rt.settings, ctx.users['lina'].id)}"}
    cat = (await client.get("/v1/rights", headers=lina)).json()["items"]
    assert {r["kind"] for r in cat} == {"coffee", "video_membership", "airport_fast_track", "coupon"}
    coffee = next(r for r in cat if r["kind"] == "coffee")
    assert not coffee["claimable"] and coffee["claimed_in_period"] == 1  # she took this month's
    video = next(r for r in cat if r["kind"] == "video_membership")
    assert video["free_for_me"] and video["claimable"]  # 白金: free this month too
    [voucher] = (await client.get("/v1/me/rights", headers=lina)).json()["items"]
    assert voucher["kind"] == "coffee" and voucher["state"] == "issued" and voucher["free_tier"] == "platinum"
    assert (await client.get(voucher["qr_url"], headers=lina)).status_code == 200
