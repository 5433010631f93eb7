from __future__ import annotations

import anyio

from tests.content.helpers import block, new_post
from tests.support.people import error_code


async def test_likes_are_idempotent(client, users):
    alice = await users.make("alice")
    bob = await users.make("bob")
    p = await new_post(client, alice)
    for _ in range(2):
        r = await client.post(f"/v1/posts/{p['id']}/like", headers=bob.headers)
        assert r.status_code == 200 and r.json() == {"post_id": p["id"], "liked": True, "like_count": 1}
    got = (await client.get(f"/v1/posts/{p['id']}", headers=bob.headers)).json()
    assert got["like_count"] == 1 and got["liked_by_me"] is True
    assert (await client.get(f"/v1/posts/{p['id']}", headers=alice.headers)).json()["liked_by_me"] is False
    for _ in range(2):
        r = await client.delete(f"/v1/posts/{p['id']}/like", headers=bob.headers)
        assert r.json() == {"post_id": p["id"], "liked": False, "like_count": 0}


async def test_like_counts_are_exact_under_concurrency(client, users):
    alice = await users.make("alice")
    p = await new_post(client, alice)
    people = [await users.make(f"u{i}") for i in range(12)]

    async def hammer(person, n):
        for i in range(n):
            verb = "POST" if i % 2 == 0 else "DELETE"
            await client.request(verb, f"/v1/posts/{p['id']}/like", headers=person.headers)
        await client.post(f"/v1/posts/{p['id']}/like", headers=person.headers)

    async with anyio.create_task_group() as tg:
        for person in people:
            for _ in range(2):  # the same user twice at once
                tg.start_soon(hammer, person, 5)
    got = (await client.get(f"/v1/posts/{p['id']}", headers=alice.headers)).json()
    assert got["like_count"] == len(people)


async def test_follows_are_idempotent_with_exact_counts_under_concurrency(client, users):
    star = await users.make("star")
    fans = [await users.make(f"fan{i}") for i in range(10)]

    async def fan_in(fan):
        for _ in range(3):
            r = await client.post(f"/v1/users/{star.id}/follow", headers=fan.headers)
            assert r.status_code == 200, r.text

    async with anyio.create_task_group() as tg:
        for fan in fans:
            tg.start_soon(fan_in, fan)
            tg.start_soon(fan_in, fan)
    r = await client.post(f"/v1/users/{star.id}/follow", headers=fans[0].headers)
    assert r.json() == {"user_id": star.id, "following": True, "follower_count": 10, "following_count": 0}
    r = await client.delete(f"/v1/users/{star.id}/follow", headers=fans[0].headers)
    assert r.json()["follower_count"] == 9
    r = await client.delete(f"/v1/users/{star.id}/follow", headers=fans[0].headers)
    assert r.json()["follower_count"] == 9
    r = await client.post(f"/v1/users/{star.id}/follow", headers=star.headers)
    assert r.status_code == 422


async def test_blocked_users_cannot_follow_see_or_like(client, users, rt):
    alice = await users.make("alice")
    bob = await users.make("bob")
    p = await new_post(client, alice)
    await block(rt, alice, bob)
    assert (await client.post(f"/v1/users/{alice.id}/follow", headers=bob.headers)).status_code == 404
    assert (await client.get(f"/v1/posts/{p['id']}", headers=bob.headers)).status_code == 404
    assert (await client.post(f"/v1/posts/{p['id']}/like", headers=bob.headers)).status_code == 404
    r = await client.post(f"/v1/posts/{p['id']}/comments", json={"text": "hi"}, headers=bob.headers)
    assert r.status_code == 404


async def test_comments_and_replies(client, users):
    alice = await users.make("alice")
    bob = await users.make("bob")
    p = await new_post(client, alice)
    r = await client.post(f"/v1/posts/{p['id']}/comments", json={"text": "说得好"}, headers=bob.headers)
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["is_answer"] is False and c["status"] == "published"
    r = await client.post(
        f"/v1/posts/{p['id']}/comments", json={"text": "谢谢", "reply_to": c["id"]}, headers=alice.headers
    )
    assert r.status_code == 201 and r.json()["reply_to"] == c["id"]
    reply = r.json()
    r = await client.post(
        f"/v1/posts/{p['id']}/comments", json={"text": "x", "reply_to": "cm_nope"}, headers=alice.headers
    )
    assert r.status_code == 422
    page = (await client.get(f"/v1/posts/{p['id']}/comments", headers=bob.headers)).json()
    # oldest first by id (two comments of one millisecond may come either way round)
    by_id = sorted([c, reply], key=lambda x: x["id"])
    assert [(x["id"], x["text"]) for x in page["items"]] == [(x["id"], x["text"]) for x in by_id]
    assert (await client.get(f"/v1/posts/{p['id']}", headers=bob.headers)).json()["comment_count"] == 2


async def test_only_the_asker_accepts_one_answer(client, users):
    asker = await users.make("asker")
    bob = await users.make("bob")
    carol = await users.make("carol")
    q = await new_post(client, asker, text="定投选哪只基金？", kind="question")
    a1 = (
        await client.post(f"/v1/posts/{q['id']}/comments", json={"text": "指数基金"}, headers=bob.headers)
    ).json()
    a2 = (
        await client.post(f"/v1/posts/{q['id']}/comments", json={"text": "看风险"}, headers=carol.headers)
    ).json()
    assert a1["is_answer"] is True
    url = f"/v1/posts/{q['id']}/answers/{a1['id']}/accept"
    r = await client.post(url, headers=bob.headers)
    assert r.status_code == 403 and error_code(r) == "forbidden"
    r = await client.post(url, headers=asker.headers)
    assert r.status_code == 200 and r.json()["accepted"] is True
    assert (await client.post(url, headers=asker.headers)).status_code == 200  # idempotent
    r = await client.post(f"/v1/posts/{q['id']}/answers/{a2['id']}/accept", headers=asker.headers)
    assert r.status_code == 409
    got = (await client.get(f"/v1/posts/{q['id']}", headers=carol.headers)).json()
    assert got["accepted_comment_id"] == a1["id"]


async def test_accepting_on_a_plain_post_or_own_answer_is_refused(client, users):
    alice = await users.make("alice")
    bob = await users.make("bob")
    p = await new_post(client, alice)
    c = (await client.post(f"/v1/posts/{p['id']}/comments", json={"text": "hi"}, headers=bob.headers)).json()
    r = await client.post(f"/v1/posts/{p['id']}/answers/{c['id']}/accept", headers=alice.headers)
    assert r.status_code == 422
    q = await new_post(client, alice, kind="question", text="问题")
    own = (
        await client.post(f"/v1/posts/{q['id']}/comments", json={"text": "自答"}, headers=alice.headers)
    ).json()
    r = await client.post(f"/v1/posts/{q['id']}/answers/{own['id']}/accept", headers=alice.headers)
    assert r.status_code == 422
    r = await client.post(f"/v1/posts/{q['id']}/answers/{c['id']}/accept", headers=alice.headers)
    assert r.status_code == 404  # a comment of another post
