"""The message center over REST: ``GET /v1/notifications`` (newest first, cursor pages, the
``unread`` filter) and ``POST /v1/notifications/read`` (``{ids}`` or ``{all: true}``, only
ever my own)."""

from __future__ import annotations

import pytest

from app.db import transaction
from app.notifications import service as notifications
from tests.support.people import error_code


async def notify(rt, person, count: int, kind: str = "watered") -> list[str]:
    """``count`` notifications for ``person``, a minute apart; their ids."""
    ids = []
    for i in range(count):
        async with rt.sessionmaker() as db, transaction(db):
            n = await notifications.notify(db, rt, user_id=person.id, kind=kind, data={"n": i})
        ids.append(n.id)
        rt.clock.advance(60)
    return ids


def newest_first(ids: list[str]) -> list[str]:
    # by id, which begins with the creation millisecond (ids of one millisecond: either way)
    return sorted(ids, reverse=True)


async def listing(client, person, **params) -> dict:
    r = await client.get("/v1/notifications", params=params, headers=person.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def all_pages(client, person, limit: int, **params) -> tuple[list[dict], int]:
    """Every item, page by page; and how many pages it took."""
    items: list[dict] = []
    cursor, pages = None, 0
    while pages < 20:  # a cursor that stands still must not loop for ever
        page = await listing(client, person, limit=limit, **params, **({"cursor": cursor} if cursor else {}))
        pages += 1
        assert len(page["items"]) <= limit
        items += page["items"]
        if (cursor := page["next_cursor"]) is None:
            return items, pages
        assert len(page["items"]) == limit, "a page before the last is full"
    raise AssertionError("the cursor never ended")


async def test_my_notifications_newest_first_in_cursor_pages(client, rt, users):
    alice, bob = await users.make("alice"), await users.make("bob")
    mine = await notify(rt, alice, 7)
    theirs = await notify(rt, bob, 2)
    page = await listing(client, alice, limit=100)
    assert [n["id"] for n in page["items"]] == newest_first(mine) and page["next_cursor"] is None
    first = next(n for n in page["items"] if n["id"] == mine[0])
    assert (first["kind"], first["data"], first["read"]) == ("watered", {"n": 0}, False)
    assert first["created_at"].startswith("2026-11-25T02:00:00")
    items, pages = await all_pages(client, alice, limit=3)
    assert [n["id"] for n in items] == newest_first(mine) and pages == 3
    # a page exactly full at the end: no empty page after it
    items, pages = await all_pages(client, alice, limit=7)
    assert len(items) == 7 and pages == 1
    assert [n["id"] for n in (await listing(client, bob))["items"]] == newest_first(theirs)
    for params in ({"cursor": "!!!"}, {"limit": 0}, {"limit": 101}, {"unread": "maybe"}):
        r = await client.get("/v1/notifications", params=params, headers=alice.headers)
        assert r.status_code == 422, params


async def test_the_unread_filter_pages_with_its_cursor(client, rt, users):
    alice = await users.make("alice")
    ids = await notify(rt, alice, 7)
    read = [ids[1], ids[4], ids[5]]
    r = await client.post("/v1/notifications/read", json={"ids": read}, headers=alice.headers)
    assert r.status_code == 200 and r.json() == {"updated": 3}
    unread = [i for i in ids if i not in read]
    items, pages = await all_pages(client, alice, limit=2, unread="true")
    assert [n["id"] for n in items] == newest_first(unread) and pages == 2
    assert not any(n["read"] for n in items)
    items, pages = await all_pages(client, alice, limit=2, unread="false")
    assert [n["id"] for n in items] == newest_first(read) and pages == 2
    assert all(n["read"] for n in items)
    everything = (await listing(client, alice, limit=100))["items"]
    assert {n["id"]: n["read"] for n in everything} == {i: i in read for i in ids}


async def test_marking_read_touches_only_my_own(client, rt, users):
    alice, bob = await users.make("alice"), await users.make("bob")
    a = await notify(rt, alice, 4)
    b = await notify(rt, bob, 2)

    async def mark(person, body):
        r = await client.post("/v1/notifications/read", json=body, headers=person.headers)
        assert r.status_code == 200, r.text
        return r.json()["updated"]

    async def unread(person) -> set[str]:
        return {n["id"] for n in (await listing(client, person, unread="true", limit=100))["items"]}

    assert await mark(alice, {"ids": a[:2]}) == 2
    assert await mark(alice, {"ids": a[:2]}) == 0  # already read
    assert await unread(alice) == set(a[2:])
    # bob's ids in alice's request do nothing, alone or among hers
    assert await mark(alice, {"ids": b}) == 0
    assert await mark(alice, {"ids": [a[2], b[0]]}) == 1
    assert await unread(bob) == set(b)
    assert await unread(alice) == {a[3]}
    assert await mark(alice, {"ids": ["n_nope"]}) == 0
    # all: every one of mine, none of bob's
    assert await mark(alice, {"all": True}) == 1
    assert await unread(alice) == set()
    assert await unread(bob) == set(b)
    assert await mark(alice, {"all": True}) == 0
    assert await mark(bob, {"all": True}) == 2
    assert await unread(bob) == set()


@pytest.mark.parametrize(
    "body",
    [{}, {"ids": []}, {"all": False}, {"ids": "n_1"}, {"ids": [1]}, {"ids": [f"n_{i}" for i in range(501)]}],
)
async def test_a_bad_read_request_is_422_and_changes_nothing(client, rt, users, body):
    alice = await users.make("alice")
    await notify(rt, alice, 2)
    r = await client.post("/v1/notifications/read", json=body, headers=alice.headers)
    assert r.status_code == 422 and error_code(r) == "validation_error", body
    assert [n["read"] for n in (await listing(client, alice))["items"]] == [False, False]


async def test_notifications_need_a_token(client):
    assert (await client.get("/v1/notifications")).status_code == 401
    assert (await client.post("/v1/notifications/read", json={"all": True})).status_code == 401
