"""In-order delivery of message pushes on one connection (``app/realtime/ordering.py``):
out-of-order arrivals are held and released in seq order, a gap that lasts is filled
from the database, repeats are dropped, and nothing is held back for good. Pure logic:
time is passed in, nobody sleeps."""

from __future__ import annotations

import pytest

from app.db import transaction
from app.realtime.ordering import Gap, InOrder
from social.chat import service as chat
from tests.support.servers import running_servers
from tests.support.ws import ws_connect


def msg(seq: int, conv: str = "c1") -> dict:
    return {"op": "message", "conversation_id": conv, "seq": seq, "message": {"id": f"m{seq}"}}


def seqs(frames: list[dict]) -> list[int]:
    return [f["seq"] for f in frames]


def test_pushes_in_order_pass_straight_through():
    order = InOrder(wait_s=0.2)
    assert [seqs(order.push(msg(s), now=0.0)) for s in (5, 6, 7)] == [[5], [6], [7]]
    assert order.next_deadline() is None


def test_other_frames_pass_whatever_is_held():
    order = InOrder(wait_s=0.2)
    order.push(msg(1), now=0.0)
    assert order.push(msg(3), now=0.0) == []
    for frame in ({"op": "notify", "notification": {}}, {"op": "read", "conversation_id": "c1", "seq": 1}):
        assert order.push(frame, now=0.0) == [frame]


def test_a_push_ahead_of_a_lower_seq_waits_for_it():
    order = InOrder(wait_s=0.2)
    assert seqs(order.push(msg(6), now=0.0)) == [6]
    assert order.push(msg(8), now=0.01) == []
    assert order.push(msg(9), now=0.02) == []
    assert order.next_deadline() == 0.01 + 0.2
    assert order.due(now=0.1) == []
    assert seqs(order.push(msg(7), now=0.1)) == [7, 8, 9]
    assert order.next_deadline() is None and order.due(now=10.0) == []


def test_conversations_are_ordered_independently():
    order = InOrder(wait_s=0.2)
    order.push(msg(1, "a"), now=0.0)
    order.push(msg(1, "b"), now=0.0)
    assert order.push(msg(3, "a"), now=0.0) == []
    assert seqs(order.push(msg(2, "b"), now=0.0)) == [2], "b has no gap"
    assert seqs(order.push(msg(2, "a"), now=0.0)) == [2, 3]


def test_a_gap_that_lasts_is_filled_from_the_database():
    order = InOrder(wait_s=0.2)
    order.push(msg(4), now=0.0)
    order.push(msg(7), now=1.0)
    order.push(msg(8), now=1.1)
    assert order.due(now=1.19) == []
    [gap] = order.due(now=1.2)
    assert gap == Gap("c1", after_seq=4, before_seq=7)
    assert seqs(order.filled(gap, [msg(5), msg(6)])) == [5, 6, 7, 8]
    assert order.next_deadline() is None
    # The delayed pushes of what the fill delivered are repeats: dropped.
    assert order.push(msg(5), now=1.3) == [] and order.push(msg(6), now=1.3) == []
    assert seqs(order.push(msg(9), now=1.3)) == [9]


def test_a_short_fill_still_releases_what_was_held():
    order = InOrder(wait_s=0.2)
    order.push(msg(1), now=0.0)
    order.push(msg(4), now=0.0)
    [gap] = order.due(now=0.2)
    assert seqs(order.filled(gap, [msg(2)])) == [2, 4], "3 could not be read: the client syncs it"
    assert order.next_deadline() is None


def test_a_second_gap_above_the_first_is_filled_next():
    order = InOrder(wait_s=0.2)
    order.push(msg(1), now=0.0)
    order.push(msg(3), now=0.0)
    order.push(msg(6), now=0.05)
    [gap] = order.due(now=0.2)
    assert seqs(order.filled(gap, [msg(2)])) == [2, 3]
    [gap] = order.due(now=0.2)
    assert gap == Gap("c1", after_seq=3, before_seq=6)
    assert seqs(order.filled(gap, [msg(4), msg(5)])) == [4, 5, 6]


def test_duplicates_and_pushes_before_the_first_seen():
    order = InOrder(wait_s=0.2)
    order.push(msg(10), now=0.0)
    assert seqs(order.push(msg(9), now=0.0)) == [9], "never delivered here: goes out"
    assert order.push(msg(10), now=0.0) == [], "a repeat"
    order.push(msg(12), now=0.0)
    assert order.push(msg(12), now=0.0) == [], "a repeat of a held frame"
    assert seqs(order.push(msg(11), now=0.0)) == [11, 12]


def test_too_many_held_frames_make_the_gap_due_at_once():
    order = InOrder(wait_s=5.0, max_held=3)
    order.push(msg(1), now=0.0)
    for s in (3, 4, 5):
        order.push(msg(s), now=0.0)
    assert order.due(now=0.0) == []
    order.push(msg(6), now=0.0)
    assert order.due(now=0.0) == [Gap("c1", after_seq=1, before_seq=3)]


@pytest.mark.real_backends
async def test_a_socket_fills_a_gap_in_its_pushes_from_the_database(settings, client, users, rt, monkeypatch):
    """Over a real server: seq 3 is pushed, seq 2 never is; the socket delivers 2 then 3."""
    alice, bob = await users.make("alice"), await users.make("bob")
    await users.friends(alice, bob)
    conv = (
        await client.post("/v1/conversations", json={"member_ids": [bob.id]}, headers=alice.headers)
    ).json()["id"]
    async with running_servers(settings, count=1) as [server], ws_connect(server, bob) as b:
        held: list[tuple[list[str], dict]] = []

        async def capture(channels, message):
            held.append((list(channels), message))

        monkeypatch.setattr(rt.hub, "publish_many", capture)
        for i in (1, 2, 3):
            async with rt.sessionmaker() as db, transaction(db):
                await chat.post_message(
                    db, rt, conversation_id=conv, sender_id=alice.id, kind="text", body={"text": f"t{i}"}
                )
        monkeypatch.undo()
        assert [m["seq"] for _, m in held] == [1, 2, 3]
        for channels, frame in (held[0], held[2]):  # seq 2 is lost on its way
            await rt.hub.publish_many(channels, frame)
        got = [await b.expect("message") for _ in range(3)]
        assert [f["seq"] for f in got] == [1, 2, 3]
        assert got[1]["message"]["body"] == {"text": "t2"}
        # seq 4, published as usual, is the sentinel: nothing came twice before it
        async with rt.sessionmaker() as db, transaction(db):
            await chat.post_message(
                db, rt, conversation_id=conv, sender_id=alice.id, kind="text", body={"text": "t4"}
            )
        before = await b.until("message", seq=4)
        assert [f for f in before if f["op"] == "message"] == []
