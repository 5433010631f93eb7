"""The service on a Redis Cluster (``redis+cluster://``): every Lua script, MULTI/EXEC and
RENAME keeps its keys on one slot (a cross-slot one fails there with CROSSSLOT), and the
hub delivers over sharded pub/sub. The multi-worker chat and grab-storm tests also run
on the cluster (``REDIS_KINDS``)."""

from __future__ import annotations

import pytest

from app.ratelimit import token_bucket
from app.redis import cluster_nodes, hash_tag, is_cluster
from content.posts import creators
from games.leaderboards import scores
from tests.social.money_support import make_group

pytestmark = [pytest.mark.real_backends, pytest.mark.redis_cluster]


def test_cluster_urls_name_their_nodes():
    url = "redis+cluster://10.0.0.1:7000, 10.0.0.2:7001,[::1]:7002"
    assert is_cluster(url) and not is_cluster("redis://h:6379/0")
    assert cluster_nodes(url) == [("10.0.0.1", 7000), ("10.0.0.2", 7001), ("::1", 7002)]
    with pytest.raises(ValueError):
        cluster_nodes("redis+cluster://nohost")
    assert hash_tag("abc") == "{abc}"


async def test_otp_wrong_and_right_codes_on_a_cluster(client, rt, settings):
    assert is_cluster(settings.redis_url)
    r = await client.post("/v1/auth/otp", json={"phone": "13800138000"})
    assert r.status_code == 202, r.text
    code = r.json()["dev_code"]
    wrong = "000000" if code != "000000" else "111111"
    # a wrong code counts this client's tries and the code's in one MULTI: one slot
    r = await client.post("/v1/auth/token", json={"phone": "13800138000", "code": wrong})
    assert r.status_code == 401, r.text
    r = await client.post("/v1/auth/token", json={"phone": "13800138000", "code": code})
    assert r.status_code == 200, r.text


async def test_leaderboard_rebuilds_rename_and_swap_within_one_slot(rt):
    now = rt.clock.now()
    # RENAME of the rebuilt set over the live one
    await scores.replace_board(rt, board="steps", period="day", at=now, members={"u1": 5, "u2": 7})
    await scores.replace_board(rt, board="steps", period="day", at=now, members={"u1": 9})
    k = scores.key(rt, "steps", "day", now)
    assert await rt.redis.zrange(k, 0, -1, withscores=True) == [("u1", 9.0)]
    # one MULTI over every bucket of the creators' board
    await creators.write_rebuilt(rt)


async def test_a_red_packet_grab_and_a_token_bucket_on_a_cluster(client, rt, users):
    sender = await users.make("sender", balance_fen=1_000)
    grabbers = [await users.make(f"g{i}") for i in range(3)]
    conv = await make_group(rt, [sender, *grabbers])
    r = await client.post(
        "/v1/red-packets",
        json={"conversation_id": conv, "total_fen": 300, "count": 2, "mode": "random"},
        headers={**sender.headers, "Idempotency-Key": "p1"},
    )
    assert r.status_code == 201, r.text
    packet = r.json()["id"]
    codes = []
    for g in grabbers:
        r = await client.post(
            f"/v1/red-packets/{packet}/grab", headers={**g.headers, "Idempotency-Key": f"grab-{packet}"}
        )
        codes.append(r.status_code)
    assert codes == [200, 200, 409]
    left = await token_bucket(rt.redis, rt.keys("rl", "test", "u1"), capacity=3, refill_per_s=1, cost=1)
    assert left == pytest.approx(2, abs=0.1)


async def test_a_campaign_gate_loads_holds_and_releases_on_a_cluster(rt):
    from games.campaigns import gate

    snap = gate.Snapshot("cmp1", 1_000, None, 0, {}, {"": ["u0"]})
    await gate.load(rt, snap)  # one MULTI over the campaign's keys
    day = rt.clock.today().isoformat()
    args = {"campaign_id": "cmp1", "discount_fen": 600, "day": day, "use_key": ""}
    assert await gate.hold(rt, user_id="u0", **args) == gate.USED
    assert await gate.hold(rt, user_id="u1", **args) == gate.HELD
    assert await gate.hold(rt, user_id="u2", **args) == gate.OVER_BUDGET
    await gate.release(rt, user_id="u1", restore_use=True, **args)
    assert await gate.hold(rt, user_id="u2", **args) == gate.HELD
    await gate.drop(rt, "cmp1", [""])


@pytest.mark.parametrize("url", ["redis+cluster://nohost", "redis+cluster://h:port", "mongodb://h"])
def test_a_bad_redis_url_is_refused_in_one_line(url):
    from app.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="QUANZI_REDIS_URL"):
        load_settings(redis_url=url)
