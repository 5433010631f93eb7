"""Typing and presence frames: relayed to the other members, throttled, never stored, and
never shown to or about blocked users."""

from __future__ import annotations

import pytest_asyncio

from app.db import transaction
from social.friends.models import Block
from tests.support.servers import running_servers
from tests.support.ws import ws_connect


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(base_settings):
    async with running_servers(base_settings) as [srv]:
        yield srv


async def group(client, users, rt):
    alice, bob, carol, dave = [await users.make(n) for n in ("alice", "bob", "carol", "dave")]
    for other in (bob, carol, dave):
        await users.friends(alice, other)
    r = await client.post(
        "/v1/conversations",
        json={"member_ids": [bob.id, carol.id, dave.id], "title": "周末"},
        headers=alice.headers,
    )
    assert r.status_code == 201, r.text
    async with rt.sessionmaker() as db, transaction(db):
        db.add(Block(blocker_id=carol.id, blocked_id=alice.id, created_at=rt.clock.now()))
    return alice, bob, carol, dave, r.json()["id"]


def send(conv: str, cid: str) -> dict:
    return {"op": "send", "cid": cid, "conversation_id": conv, "body": {"kind": "text", "text": "hi"}}


async def test_typing_reaches_members_once_per_interval_but_not_blocked_ones(server, client, users, rt):
    alice, bob, carol, _, conv = await group(client, users, rt)
    async with ws_connect(server, alice) as a, ws_connect(server, bob) as b, ws_connect(server, carol) as c:
        await a.send({"op": "typing", "conversation_id": conv})
        await a.send({"op": "typing", "conversation_id": conv})  # within the interval: dropped
        await a.send(send(conv, "s1"))  # the sentinel, after both
        ack = await a.expect("ack", cid="s1")
        before_b = await b.until("message", seq=ack["seq"])
        assert [f for f in before_b if f["op"] == "typing"] == [
            {"op": "typing", "conversation_id": conv, "user_id": alice.id}
        ]
        before_c = await c.until("message", seq=ack["seq"])
        assert not [f for f in before_c if f["op"] == "typing"]
        before_a = await a.until("message", seq=ack["seq"])
        assert not [f for f in before_a if f["op"] == "typing"]  # not echoed to the typist
    listed = (await client.get(f"/v1/conversations/{conv}/messages", headers=bob.headers)).json()["items"]
    assert [m["kind"] for m in listed] == ["system", "text"]  # typing is never stored


async def test_presence_lists_online_members_without_blocked_ones(server, client, users, rt):
    alice, bob, carol, dave, conv = await group(client, users, rt)
    async with ws_connect(server, alice) as a, ws_connect(server, bob) as b, ws_connect(server, carol):
        await b.send({"op": "presence", "conversation_id": conv})
        got = await b.expect("presence")
        assert got == {"op": "presence", "conversation_id": conv, "online": sorted([alice.id, carol.id])}
        await a.send({"op": "presence", "conversation_id": conv})
        assert (await a.expect("presence"))["online"] == [bob.id]  # carol blocked alice; dave is offline
    async with ws_connect(server, bob) as b:
        await b.send({"op": "presence", "conversation_id": conv})
        assert (await b.expect("presence"))["online"] == []  # the others' sockets closed
        await b.send({"op": "typing", "conversation_id": "c_not_mine"})
        assert (await b.expect("error"))["code"] == "not_found"
    assert dave.id
