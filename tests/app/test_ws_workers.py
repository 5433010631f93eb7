"""Fan-out between worker processes sharing PostgreSQL and Redis: a message sent on one
worker reaches members connected to another, on every device; notifications published
by any process reach the user's sockets. On one Redis and on a Redis Cluster (sharded
pub/sub)."""

from __future__ import annotations

import pytest

from app.notifications import service as notifications
from app.runtime import build_runtime
from tests.support.redis_cluster import REDIS_KINDS
from tests.support.servers import running_servers
from tests.support.ws import ws_connect

pytestmark = pytest.mark.real_backends


@pytest.mark.parametrize("redis_kind", REDIS_KINDS)
async def test_a_message_sent_on_one_worker_reaches_devices_on_the_other(settings, client, users, redis_kind):
    alice, bob = await users.make("alice"), await users.make("bob")
    await users.friends(alice, bob)
    conv = (
        await client.post("/v1/conversations", json={"member_ids": [bob.id]}, headers=alice.headers)
    ).json()["id"]
    async with running_servers(settings, count=2) as (w1, w2):
        async with ws_connect(w1, alice) as a, ws_connect(w2, bob) as b_on_w2, ws_connect(w1, bob) as b_on_w1:
            for i in range(1, 21):
                sender, cid = (a, f"a{i}") if i % 2 else (b_on_w2, f"b{i}")
                await sender.send(
                    {"op": "send", "cid": cid, "conversation_id": conv, "body": {"kind": "text", "text": cid}}
                )
                assert (await sender.expect("ack", cid=cid))["seq"] == i
            for device in (a, b_on_w1, b_on_w2):
                seqs = [(await device.expect("message", seq=i))["seq"] for i in range(1, 21)]
                assert seqs == list(range(1, 21))
                assert [f for f in device.buffer if f["op"] == "message"] == []

            # A notification stored by any process is pushed to every device of the user.
            rt = build_runtime(settings)
            try:
                await rt.hub.start()
                await notifications.send(rt, user_id=bob.id, kind="friend_request", data={"from": alice.id})
                # then one for alice, the sentinel: bob's came before it, and not to her
                await notifications.send(rt, user_id=alice.id, kind="friend_request", data={"from": bob.id})
            finally:
                await rt.close()
            for device in (b_on_w1, b_on_w2):
                n = await device.expect("notify")
                assert n["notification"]["kind"] == "friend_request"
                assert n["notification"]["data"] == {"from": alice.id}
            before = await a.until("notify", where=lambda f: f["notification"]["data"] == {"from": bob.id})
            assert [f for f in before if f["op"] == "notify"] == [], "alice gets nobody else's notifications"
