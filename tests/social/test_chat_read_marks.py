"""Read marks: many marks coalesced into one write keep the rule of one — forward only,
never past the last message, other devices told once per move, outsiders refused."""

from __future__ import annotations

import asyncio

import anyio
import pytest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound
from app.realtime.hub import user_channel
from social.chat import readmarks
from social.chat.readmarks import batcher


@pytest.fixture
def writes(monkeypatch):
    """The marks each write was given (to show that marks were in fact coalesced)."""
    seen: list[dict] = []
    real = readmarks.move

    async def counting(db, marks):
        seen.append(dict(marks))
        return await real(db, marks)

    monkeypatch.setattr(readmarks, "move", counting)
    return seen


async def group_with_messages(client, users, n_members: int, n_messages: int):
    owner = await users.make("owner")
    members = [await users.make(f"m{i}") for i in range(n_members)]
    for m in members:
        await users.friends(owner, m)
    r = await client.post(
        "/v1/conversations",
        json={"member_ids": [m.id for m in members], "title": "reads"},
        headers=owner.headers,
    )
    conv = r.json()["id"]
    for i in range(n_messages):
        r = await client.post(
            f"/v1/conversations/{conv}/messages",
            json={"cid": f"c{i}", "body": {"kind": "text", "text": f"t{i}"}},
            headers=owner.headers,
        )
        assert r.status_code in (200, 201), r.text
    return owner, members, conv


async def unread(client, person, conv) -> tuple[int, int]:
    r = await client.get("/v1/conversations", headers=person.headers)
    item = next(c for c in r.json()["items"] if c["id"] == conv)
    return item["last_read_seq"], item["unread_count"]


async def test_concurrent_marks_are_written_together_forward_only_and_capped(client, users, rt, writes):
    _owner, members, conv = await group_with_messages(client, users, 4, 5)  # seqs 1 (system) .. 6
    outsider = await users.make("outsider")
    marks = [(m, seq) for m in members for seq in (3, 2, 5)] + [(members[3], 99)]
    async with rt.hub.subscribe([user_channel(m.id) for m in members]) as sub:
        results = await asyncio.gather(
            *(batcher(rt).mark(user_id=m.id, conversation_id=conv, seq=s) for m, s in marks),
            batcher(rt).mark(user_id=outsider.id, conversation_id=conv, seq=1),
            return_exceptions=True,
        )
        assert results[:-1] == [None] * len(marks)
        assert isinstance(results[-1], NotFound), "an outsider's mark is refused"
        assert len(writes) < len(marks), "marks queued together are written together"
        # each member's other devices hear of the move once, at the furthest seq
        frames = []
        with anyio.fail_after(5):
            for _ in members:
                frames.append(await sub.get())
    assert sorted((f["conversation_id"], f["seq"]) for f in frames) == [(conv, 5)] * 3 + [(conv, 6)]
    for m in members[:3]:
        assert await unread(client, m, conv) == (5, 1)
    assert await unread(client, members[3], conv) == (6, 0), "never past the last message"
    # a later mark behind the marker changes nothing and tells no one
    await batcher(rt).mark(user_id=members[0].id, conversation_id=conv, seq=2)
    assert await unread(client, members[0], conv) == (5, 1)


async def test_the_rest_endpoint_and_the_socket_share_the_rule(client, users, rt):
    _owner, [member], conv = await group_with_messages(client, users, 1, 3)  # seqs 1 .. 4
    r = await client.post(f"/v1/conversations/{conv}/read", json={"seq": 3}, headers=member.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["last_read_seq"], r.json()["unread_count"]) == (3, 1)
    r = await client.post(f"/v1/conversations/{conv}/read", json={"seq": 2}, headers=member.headers)
    assert (r.json()["last_read_seq"], r.json()["unread_count"]) == (3, 1), "never back"
    await batcher(rt).mark(user_id=member.id, conversation_id=conv, seq=10)
    assert await unread(client, member, conv) == (4, 0)
    outsider = await users.make("outsider")
    r = await client.post(f"/v1/conversations/{conv}/read", json={"seq": 1}, headers=outsider.headers)
    assert r.status_code == 404


async def test_a_mark_broken_off_by_a_deadlock_runs_again(client, users, rt, monkeypatch):
    """PostgreSQL aborts one of two writes that wait on each other (a send batch moving its
    senders' marks, a read-mark write): the read marks are written once more, not lost."""
    _owner, [member], conv = await group_with_messages(client, users, 1, 2)  # seqs 1 .. 3

    class Deadlock(Exception):
        sqlstate = "40P01"

    calls = 0

    async def deadlocked_once(db, statement, params=None, **kw):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise DBAPIError("move", params, Deadlock())
        return await real(db, statement, params, **kw)

    real = AsyncSession.execute
    monkeypatch.setattr(AsyncSession, "execute", deadlocked_once)
    await batcher(rt).mark(user_id=member.id, conversation_id=conv, seq=3)
    monkeypatch.undo()
    assert calls == 2
    assert await unread(client, member, conv) == (3, 0)
