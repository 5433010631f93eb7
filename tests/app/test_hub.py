"""The realtime hub on every backend: memory in one process, Redis pub/sub across
processes, sharded pub/sub on a Redis Cluster."""

from __future__ import annotations

import json

import anyio
import pytest

from app.realtime.hub import (
    MemoryHub,
    RedisHub,
    ShardedRedisHub,
    Wire,
    decode_batch,
    encode_batch,
    user_channel,
)

# Each test runs on the in-process hub and, marked real_backends, on Redis pub/sub.
pytestmark = pytest.mark.parametrize(
    "backend",
    [
        pytest.param(MemoryHub, id="memory"),
        pytest.param(RedisHub, id="redis", marks=pytest.mark.real_backends),
        pytest.param(
            ShardedRedisHub,
            id="cluster",
            marks=[pytest.mark.real_backends, pytest.mark.redis_cluster],
        ),
    ],
)


async def test_publish_reaches_every_subscriber_of_the_channel_only(rt, backend):
    assert type(rt.hub) is backend
    await rt.hub.start()
    try:
        async with (
            rt.hub.subscribe([user_channel("a")]) as phone,
            rt.hub.subscribe([user_channel("a")]) as tablet,
            rt.hub.subscribe([user_channel("b")]) as other,
        ):
            await rt.hub.publish(user_channel("a"), {"op": "message", "n": 1})
            with anyio.fail_after(5):
                assert (await phone.get())["n"] == 1
                assert (await tablet.get())["n"] == 1
            await rt.hub.publish(user_channel("b"), {"op": "message", "n": 2})
            with anyio.fail_after(5):
                assert (await other.get())["n"] == 2
            assert phone.queue.empty()
        assert rt.hub.local_subscribers(user_channel("a")) == 0
    finally:
        await rt.hub.close()


async def test_messages_on_one_channel_keep_their_order(rt, backend):
    assert type(rt.hub) is backend
    await rt.hub.start()
    try:
        async with rt.hub.subscribe([user_channel("a")]) as sub:
            for n in range(200):
                await rt.hub.publish(user_channel("a"), {"n": n})
            with anyio.fail_after(10):
                got = [(await sub.get())["n"] for _ in range(200)]
        assert got == list(range(200))
    finally:
        await rt.hub.close()


async def test_publish_many_reaches_each_channel_in_order_with_single_publishes(rt, backend):
    """A message to a group's members (one batch-channel message on Redis) and messages to
    one member (a PUBLISH on their channel) reach that member in the order published."""
    await rt.hub.start()
    try:
        members = [user_channel(f"m{i}") for i in range(100)]
        async with rt.hub.subscribe([members[0]]) as first, rt.hub.subscribe([members[99]]) as last:
            for n in range(20):
                await rt.hub.publish_many(members, {"n": n, "to": "group"})
                await rt.hub.publish(members[0], {"n": n, "to": "one"})
            with anyio.fail_after(10):
                got_first = [(await first.get())["to"] for _ in range(40)]
                got_last = [(await last.get())["n"] for _ in range(20)]
        assert got_first == ["group", "one"] * 20
        assert got_last == list(range(20)) and last.queue.empty()
    finally:
        await rt.hub.close()


async def test_publish_each_delivers_every_message_to_its_channels_in_order(rt, backend):
    assert type(rt.hub) is backend
    await rt.hub.start()
    try:
        async with (
            rt.hub.subscribe([user_channel("a")]) as a,
            rt.hub.subscribe([user_channel("b")]) as b,
        ):
            await rt.hub.publish_each(
                [([user_channel("a"), user_channel("b")], {"n": n}) for n in range(50)]
                + [([user_channel("b")], {"n": "b only"})]
            )
            await rt.hub.publish_each([])
            with anyio.fail_after(10):
                assert [(await a.get())["n"] for _ in range(50)] == list(range(50))
                assert [(await b.get())["n"] for _ in range(51)] == [*range(50), "b only"]
            assert a.queue.empty()
    finally:
        await rt.hub.close()


async def test_publish_each_keeps_text_beyond_ascii_and_shares_one_frame(rt, backend):
    """A batch's message reaches all its local subscribers as one frame; on Redis with the
    JSON text the gateway writes as is (serialised once, whatever the characters)."""
    await rt.hub.start()
    try:
        async with (
            rt.hub.subscribe([user_channel("a")]) as a,
            rt.hub.subscribe([user_channel("b")]) as b,
        ):
            frames = [{"op": "message", "text": "新年快乐 🧧", "n": n} for n in range(3)]
            await rt.hub.publish_each([([user_channel("a"), user_channel("b")], f) for f in frames])
            with anyio.fail_after(10):
                got_a = [await a.get() for _ in frames]
                got_b = [await b.get() for _ in frames]
        assert got_a == frames and got_b == frames
        if backend is not ShardedRedisHub:  # the cluster publishes per channel
            assert all(x is y for x, y in zip(got_a, got_b, strict=True))
        if backend is RedisHub:
            assert all(isinstance(f, Wire) and json.loads(f.text) == f for f in got_a)
    finally:
        await rt.hub.close()


def test_a_batch_payload_round_trips_and_a_bad_one_is_refused(backend):
    if backend is not MemoryHub:
        pytest.skip("pure encoding: once is enough")
    items = [
        ([user_channel("a"), user_channel("b")], {"t": "é\n红"}),
        ([], {"x": 1}),
        ([user_channel("c")], {}),
    ]
    data = encode_batch(items)
    assert data is not None
    assert decode_batch(data) == [
        ([user_channel("a"), user_channel("b")], '{"t":"é\\n红"}'),
        ([user_channel("c")], "{}"),
    ]
    assert decode_batch(data.encode()) == decode_batch(data)
    assert encode_batch([([], {"x": 1})]) is None
    with pytest.raises(ValueError):
        decode_batch(data + "x")
    with pytest.raises(ValueError):
        decode_batch("no header")
