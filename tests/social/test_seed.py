from __future__ import annotations

from app import seed as seeding


async def test_demo_seed_shows_li_na_the_social_features(client, rt):
    ctx = await seeding.run(rt)
    lina = {"Authorization": f"Bearer {(await seeding.demo_tokens(ctx))['lina']}"}
    requests = (await client.get("/v1/friends/requests?direction=incoming", headers=lina)).json()["items"]
    assert {r["user"]["display_name"] for r in requests} == {"孙丽 Sun Li", "郑浩 Zheng Hao"}
    matches = (await client.get("/v1/contacts/matches", headers=lina)).json()["items"]
    assert {m["display_name"] for m in matches} == {"孙丽 Sun Li", "周强 Zhou Qiang", "王伟 Wang Wei"}
    suggestions = (await client.get("/v1/friends/suggestions", headers=lina)).json()["items"]
    assert suggestions[0]["display_name"] == "周强 Zhou Qiang"
    assert {"kind": "in_contacts"} in suggestions[0]["reasons"]
    assert "吴芳 Wu Fang" in [s["display_name"] for s in suggestions]
    referrals = (await client.get("/v1/referrals/me", headers=lina)).json()
    assert referrals["rewards_fen"] == 2000 and referrals["invited"][0]["status"] == "rewarded"
    advisor = (await client.get("/v1/me/advisor", headers=lina)).json()
    assert advisor["advisor"]["id"] == ctx.users["advisor"].id
    assert advisor["advisor"]["badge"] == "advisor"  # the verified mark clients show
    adv = {"Authorization": f"Bearer {(await seeding.demo_tokens(ctx))['advisor']}"}
    clients = (await client.get("/v1/advisor/clients?limit=100", headers=adv)).json()["items"]
    mine = next(c for c in clients if c["user_id"] == ctx.users["lina"].id)
    assert mine["messages"]["from_advisor"] == 1
    # a second run is harmless
    again = await seeding.run(rt)
    assert not again.first_run
