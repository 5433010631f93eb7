"""The WebSocket send batcher: many sends stored in one transaction keep every promise of a
single send — gap-free seqs, idempotent cids, per-send refusals — and a batch that fails
as a whole is retried send by send."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from app.db import transaction
from app.errors import Forbidden, NotFound, ValidationFailed
from app.realtime.hub import user_channel
from social.chat import batcher as batching
from social.chat.batcher import batcher
from social.friends.models import Block


@pytest.fixture
def batch_sizes(monkeypatch):
    """The size of every batch stored (to show that sends were in fact batched); no batch
    may fail as a whole (its sends would still succeed, one by one, hiding the failure)."""
    sizes: list[int] = []
    failed: list[BaseException] = []
    real = batching.store_batch

    async def counting(db, rt, sends):
        sizes.append(len(sends))
        try:
            return await real(db, rt, sends)
        except Exception as exc:
            failed.append(exc)
            raise

    monkeypatch.setattr(batching, "store_batch", counting)
    yield sizes
    assert not failed, failed


async def direct(client, a, b) -> str:
    r = await client.post("/v1/conversations", json={"member_ids": [b.id]}, headers=a.headers)
    assert r.status_code in (200, 201), r.text
    return str(r.json()["id"])


async def send(rt, person, conversation_id: str, cid: str, text: str = "hi"):
    return await batcher(rt).send(
        user_id=person.id,
        conversation_id=conversation_id,
        cid=cid,
        kind="text",
        body={"kind": "text", "text": text},
    )


async def outcome(rt, person, conversation_id: str, cid: str, text: str = "hi"):
    """The (message, resent) pair, or the domain error the send raised."""
    try:
        return await send(rt, person, conversation_id, cid, text)
    except (NotFound, Forbidden, ValidationFailed) as exc:
        return exc


async def history(client, person, conversation_id: str) -> list[dict]:
    r = await client.get(f"/v1/conversations/{conversation_id}/messages?limit=100", headers=person.headers)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def test_concurrent_sends_get_every_seq_once_in_order(client, users, rt, batch_sizes):
    owner = await users.make("owner")
    members = [await users.make(f"m{i}") for i in range(5)]
    for m in members:
        await users.friends(owner, m)
    r = await client.post(
        "/v1/conversations",
        json={"member_ids": [m.id for m in members], "title": "busy"},
        headers=owner.headers,
    )
    group = r.json()["id"]
    pairs = [(members[i], members[i + 1]) for i in range(0, 4, 2)]
    for a, b in pairs:
        await users.friends(a, b)
    directs = [await direct(client, a, b) for a, b in pairs]
    per_sender = 8
    jobs = [(m, group, f"g{n}-{i}") for i in range(per_sender) for n, m in enumerate(members)]
    for (a, b), conv in zip(pairs, directs, strict=True):
        jobs += [(p, conv, f"d{p.id}-{i}") for i in range(per_sender) for p in (a, b)]

    async with rt.hub.subscribe([user_channel(owner.id), user_channel(members[0].id)]) as sub:
        results = await asyncio.gather(*(send(rt, p, conv, cid, cid) for p, conv, cid in jobs))

        assert max(batch_sizes) > 1, "sends queued together are stored together"
        assert all(not resent for _, resent in results)
        group_seqs = sorted(m.seq for m, _ in results if m.conversation_id == group)
        assert group_seqs == list(range(2, len(members) * per_sender + 2)), "seq 1 is the system message"
        for conv in directs:
            assert sorted(m.seq for m, _ in results if m.conversation_id == conv) == list(
                range(1, 2 * per_sender + 1)
            )
        # One worker publishes each conversation's messages in seq order, each once.
        pushed: dict[str, list[int]] = {}
        expected = len(members) * per_sender * 2 + 2 * per_sender  # the owner's and m0's frames
        with anyio.fail_after(10):
            for _ in range(expected):
                f = await sub.get()
                pushed.setdefault(f["conversation_id"], []).append(f["seq"])
    assert pushed[group] == [s for s in range(2, len(members) * per_sender + 2) for _ in (owner, members[0])]
    assert pushed[directs[0]] == list(range(1, 2 * per_sender + 1))

    stored = await history(client, owner, group)
    assert [m["seq"] for m in stored] == list(range(1, len(members) * per_sender + 2))
    by_id = {m.id: m for m, _ in results}
    for m in stored[1:]:
        assert by_id[m["id"]].seq == m["seq"] and m["body"]["text"] == by_id[m["id"]].cid
    # A sender has read their own messages.
    r = await client.get("/v1/conversations", headers=members[4].headers)
    busy = next(c for c in r.json()["items"] if c["id"] == group)
    last_own = max(m.seq for m, _ in results if m.sender_id == members[4].id and m.conversation_id == group)
    assert busy["last_read_seq"] == last_own and busy["last_seq"] == len(members) * per_sender + 1


async def test_a_repeated_cid_gets_the_same_message_in_the_same_and_a_later_batch(
    client, users, rt, batch_sizes
):
    alice, bob = await users.make("alice"), await users.make("bob")
    await users.friends(alice, bob)
    conv = await direct(client, alice, bob)
    first, again, other = await asyncio.gather(
        send(rt, alice, conv, "dup", "once"),
        send(rt, alice, conv, "dup", "once"),
        send(rt, bob, conv, "dup", "bob's own"),  # the same cid from another sender is another message
    )
    assert batch_sizes == [3]
    assert first == (first[0], False) and again == (first[0], True)
    assert other[0].id != first[0].id and {first[0].seq, other[0].seq} == {1, 2}
    later, fresh = await asyncio.gather(send(rt, alice, conv, "dup", "once"), send(rt, alice, conv, "new"))
    assert later[1] is True and later[0].id == first[0].id and later[0].seq == first[0].seq
    assert fresh[0].seq == 3
    assert [m["body"]["text"] for m in await history(client, alice, conv)] == ["once", "bob's own", "hi"]


async def test_a_refused_send_fails_alone(client, users, rt, batch_sizes):
    alice, bob, carol, mallory = [await users.make(n) for n in ("alice", "bob", "carol", "mallory")]
    await users.friends(alice, bob)
    await users.friends(alice, carol)
    ab, ac = await direct(client, alice, bob), await direct(client, alice, carol)
    async with rt.sessionmaker() as db, transaction(db):
        db.add(Block(blocker_id=carol.id, blocked_id=alice.id, created_at=rt.clock.now()))
    results = await asyncio.gather(
        outcome(rt, alice, ab, "ok1"),
        outcome(rt, mallory, ab, "evil"),  # not a member
        outcome(rt, alice, "c_nope", "gone"),  # no such conversation
        outcome(rt, alice, ac, "blocked"),  # carol blocked alice
        outcome(rt, carol, ac, "blocker"),  # and the blocker cannot write either
        outcome(rt, bob, ab, "ok2"),
    )
    assert batch_sizes == [6]
    ok1, evil, gone, blocked, blocker, ok2 = results
    assert isinstance(evil, NotFound) and isinstance(gone, NotFound)
    assert isinstance(blocked, Forbidden) and isinstance(blocker, Forbidden)
    assert sorted([ok1[0].seq, ok2[0].seq]) == [1, 2]
    assert len(await history(client, alice, ab)) == 2
    assert await history(client, alice, ac) == []
    # A blank text is refused before it is queued.
    assert isinstance(await outcome(rt, alice, ab, "blank", "   "), ValidationFailed)


async def test_a_failed_batch_is_retried_send_by_send(client, users, rt, monkeypatch):
    alice, bob, mallory = await users.make("alice"), await users.make("bob"), await users.make("mallory")
    await users.friends(alice, bob)
    conv = await direct(client, alice, bob)
    failures: list[int] = []

    async def broken(db, rt, sends):
        failures.append(len(sends))
        raise RuntimeError("the database went away")

    monkeypatch.setattr(batching, "store_batch", broken)
    results = await asyncio.gather(
        outcome(rt, alice, conv, "a1"),
        outcome(rt, mallory, conv, "evil"),
        outcome(rt, bob, conv, "b1"),
        outcome(rt, alice, conv, "a1"),  # a repeat: the same message
    )
    assert failures == [4]
    a1, evil, b1, a1_again = results
    assert isinstance(evil, NotFound)
    assert (a1[0].seq, b1[0].seq) == (1, 2)
    assert a1_again[1] is True and (a1_again[0].id, a1_again[0].seq) == (a1[0].id, 1)
    assert [m["seq"] for m in await history(client, bob, conv)] == [1, 2]


async def test_two_workers_batching_into_the_same_conversations_keep_seqs_gap_free(
    client, users, rt, settings
):
    """Two runtimes (two workers' batchers) lock the same conversations in the same order:
    no deadlock, no gap, and a cid resent through both is stored once."""
    from app.runtime import build_runtime

    people = [await users.make(f"p{i}") for i in range(8)]
    convs = []
    for a, b in zip(people[::2], people[1::2], strict=True):
        await users.friends(a, b)
        convs.append((a, b, await direct(client, a, b)))
    other = build_runtime(settings)
    try:
        jobs = []
        for i in range(6):
            for a, b, conv in convs:
                jobs.append(send(rt, a, conv, f"a{i}"))
                jobs.append(send(other, b, conv, f"b{i}"))
            for a, _, conv in reversed(convs):
                jobs.append(send(other, a, conv, f"a{i}"))  # the same cid, through the other worker
        results = await asyncio.gather(*jobs)
    finally:
        await other.close()
    for a, _, conv in convs:
        mine = {m.cid: m.id for m, _ in results if m.conversation_id == conv and m.sender_id == a.id}
        assert len(mine) == 6, "each cid of a sender is one message"
        assert [m["seq"] for m in await history(client, a, conv)] == list(range(1, 13))


async def test_no_connection_fails_the_batch_without_retrying_each_send(client, users, rt, monkeypatch):
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from social.chat import service as chat

    alice, bob = await users.make("alice"), await users.make("bob")
    await users.friends(alice, bob)
    conv = await direct(client, alice, bob)

    async def no_connection(db, rt, sends):
        raise PoolTimeout("QueuePool limit reached")

    async def must_not_run(*args, **kwargs):
        raise AssertionError("retried send by send")

    monkeypatch.setattr(batching, "store_batch", no_connection)
    monkeypatch.setattr(chat, "send_message", must_not_run)
    results = await asyncio.gather(
        send(rt, alice, conv, "a1"), send(rt, bob, conv, "b1"), return_exceptions=True
    )
    assert [type(r) for r in results] == [PoolTimeout, PoolTimeout]
