"""Display names cannot impersonate staff; staff carry a verified badge wherever a person is shown."""

from __future__ import annotations

import pytest

from tests.support.people import error_code


@pytest.mark.parametrize(
    "name",
    [
        "刘洋 Liu Yang (理财经理)",
        "管理员 Admin",
        "管 理-员",
        "圈子官方客服",
        "ＡＤＭＩＮ",  # full width: NFKC makes it plain
        "A d m i n",
        "LiAdmin",
        "Official Li",
        "bank-moderator",
        "招商银行小王",
    ],
)
async def test_reserved_words_are_refused_for_users(client, users, name):
    alice = await users.make("alice")
    r = await client.patch("/v1/me", json={"display_name": name}, headers=alice.headers)
    assert r.status_code == 422, r.text
    assert error_code(r) == "validation_error"
    assert r.json()["error"]["details"]["reason"] == "reserved_name"
    assert (await client.get("/v1/me", headers=alice.headers)).json()["display_name"] == "alice"


@pytest.mark.parametrize(
    "name",
    ["\u200b\u200b", "\u200b \u2060\ufeff", "\u3000\u00a0", "\u0301\u0301", "\u202e", "a\u202eb", "\u200d"],
)
async def test_invisible_and_direction_tricks_are_refused(client, users, name):
    alice = await users.make("alice")
    r = await client.patch("/v1/me", json={"display_name": name}, headers=alice.headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"]["reason"] in ("blank", "control_characters")


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("Badminton 李", "Badminton 李"),
        ("ＬＩ\u200b Na", "LI Na"),
        ("  王   小明 ", "王 小明"),
        ("👩\u200d💻 dev", "👩\u200d💻 dev"),
    ],
)
async def test_ordinary_names_are_normalised_and_kept(client, users, name, stored):
    alice = await users.make("alice")
    r = await client.patch("/v1/me", json={"display_name": name}, headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == stored and r.json()["badge"] is None


async def test_staff_may_use_reserved_words_and_carry_a_badge_everywhere(client, users):
    adv = await users.make("adv", roles="advisor,user")
    mod = await users.make("mod", roles="moderator,user")
    alice = await users.make("alice")
    r = await client.patch("/v1/me", json={"display_name": "刘洋 (理财经理)"}, headers=adv.headers)
    assert r.status_code == 200 and r.json()["badge"] == "advisor"
    assert (await client.patch("/v1/me", json={"display_name": "管理员 Admin"}, headers=mod.headers)).json()[
        "badge"
    ] == "staff"
    await users.friends(alice, adv)
    friends = (await client.get("/v1/friends", headers=alice.headers)).json()["items"]
    assert [(f["display_name"], f["badge"]) for f in friends] == [("刘洋 (理财经理)", "advisor")]
    r = await client.post("/v1/friends/requests", json={"user_id": mod.id}, headers=alice.headers)
    assert r.json()["user"]["badge"] == "staff"
    incoming = (await client.get("/v1/friends/requests", headers=mod.headers)).json()
    assert [(i["direction"], i["user"]["badge"]) for i in incoming["items"]] == [("incoming", None)]
    r = await client.post(
        "/v1/posts",
        json={"kind": "article", "title": "定投", "text": "定投是一种纪律。"},
        headers=adv.headers,
    )
    assert r.status_code == 201 and r.json()["author"]["badge"] == "advisor"
    convs = (
        await client.post("/v1/conversations", json={"member_ids": [adv.id]}, headers=alice.headers)
    ).json()
    listed = (await client.get("/v1/conversations", headers=alice.headers)).json()["items"]
    assert any(c["id"] == convs["id"] and c["peer"]["badge"] == "advisor" for c in listed), listed
    await client.post("/v1/me/steps", json={"date": "2026-11-25", "steps": 3000}, headers=adv.headers)
    board = (
        await client.get("/v1/leaderboards/steps", params={"scope": "global"}, headers=alice.headers)
    ).json()
    assert board["items"][0]["badge"] == "advisor"
    me = (await client.get("/v1/me", headers=alice.headers)).json()
    assert me["badge"] is None
