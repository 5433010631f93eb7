"""Person cards: ``GET /v1/users/{id}`` and who may see it (docs/safety.md)."""

from __future__ import annotations

from social.advisors import service as advisors
from tests.support.people import error_code


def card(p, name: str, badge: str | None = None) -> dict:
    return {"id": p.id, "display_name": name, "avatar_url": None, "badge": badge}


async def _hide(client, p) -> None:
    r = await client.patch("/v1/me", json={"discoverable": False}, headers=p.headers)
    assert r.status_code == 200, r.text


async def _get(client, viewer, target_id: str):
    return await client.get(f"/v1/users/{target_id}", headers=viewer.headers)


async def _not_found(client, viewer, target_id: str) -> None:
    r = await _get(client, viewer, target_id)
    unknown = await _get(client, viewer, "u_nobody")
    assert r.status_code == unknown.status_code == 404, r.text
    assert error_code(r) == "not_found"
    assert r.json()["error"]["message"] == unknown.json()["error"]["message"]


async def test_the_card_of_a_friend_a_co_member_and_myself(client, users):
    owner, friend, other = await users.make("群主"), await users.make("小李"), await users.make("小王")
    await users.friends(owner, friend)
    await users.friends(owner, other)
    for p in (friend, other):
        await _hide(client, p)
    r = await client.post(
        "/v1/conversations", json={"member_ids": [friend.id, other.id], "title": "家"}, headers=owner.headers
    )
    assert r.status_code == 201, r.text
    assert (await _get(client, owner, friend.id)).json() == card(friend, "小李")
    # friend and other are not friends, but share a group
    assert (await _get(client, friend, other.id)).json() == card(other, "小王")
    assert (await _get(client, other, other.id)).json() == card(other, "小王")


async def test_a_stranger_sees_a_discoverable_user_but_not_a_hidden_one(client, users):
    open_, shy, stranger = await users.make("open"), await users.make("shy"), await users.make("stranger")
    await _hide(client, shy)
    r = await _get(client, stranger, open_.id)
    assert r.status_code == 200 and r.json() == card(open_, "open")
    await _not_found(client, stranger, shy.id)
    assert "shy" not in (await _get(client, stranger, shy.id)).text


async def test_blocked_either_way_is_not_found(client, users):
    a, b = await users.make("a"), await users.make("b")
    await users.friends(a, b)
    assert (await _get(client, b, a.id)).status_code == 200
    r = await client.post(f"/v1/blocks/{b.id}", headers=a.headers)
    assert r.status_code == 201, r.text
    await _not_found(client, a, b.id)
    await _not_found(client, b, a.id)


async def test_staff_see_hidden_users_and_carry_their_badge(client, users, rt):
    shy, client_ = await users.make("shy"), await users.make("client")
    moderator = await users.make("mod", roles="user,moderator")
    advisor = await users.make("advisor", roles="user,advisor")
    for p in (shy, client_, advisor):
        await _hide(client, p)
    assert (await _get(client, moderator, shy.id)).json() == card(shy, "shy")
    await _not_found(client, advisor, client_.id)
    async with rt.sessionmaker() as db:
        await advisors.assign(db, rt, client_id=client_.id, advisor_id=advisor.id)
    assert (await _get(client, advisor, client_.id)).json() == card(client_, "client")
    assert (await _get(client, client_, advisor.id)).json() == card(advisor, "advisor", "advisor")
    assert (await _get(client, shy, moderator.id)).json() == card(moderator, "mod", "staff")


async def test_no_token_is_401(client, users):
    p = await users.make("p")
    r = await client.get(f"/v1/users/{p.id}")
    assert r.status_code == 401 and error_code(r) == "unauthenticated"
