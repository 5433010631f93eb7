"""Connection limits on a real server with small settings: the per-connection send rate,
the server-side heartbeat, and the first-frame auth timeout."""

from __future__ import annotations

import json

import anyio
import pytest
import pytest_asyncio
import websockets

from tests.support.servers import running_servers
from tests.support.ws import WAIT_S, ws_connect, ws_url

LIMITS = {
    "QUANZI_WS_HEARTBEAT_S": "0.3",
    "QUANZI_WS_HEARTBEAT_MISSES": "2",
    "QUANZI_WS_SEND_BURST": "5",
    # a burst of 5, then one frame every 1000 s: however slow the machine, the test gets
    # exactly the burst
    "QUANZI_WS_SEND_RATE_PER_S": "0.001",
    "QUANZI_WS_AUTH_TIMEOUT_S": "0.5",
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(base_settings):
    async with running_servers(base_settings, extra_env=LIMITS) as [srv]:
        yield srv


async def test_sending_too_fast_gets_rate_limited_frames_and_the_connection_stays(server, client, users):
    alice, bob = await users.make("alice"), await users.make("bob")
    await users.friends(alice, bob)
    conv = (
        await client.post("/v1/conversations", json={"member_ids": [bob.id]}, headers=alice.headers)
    ).json()["id"]
    async with ws_connect(server, alice) as a:
        for i in range(12):
            await a.send(
                {"op": "send", "cid": f"f{i}", "conversation_id": conv, "body": {"kind": "text", "text": "x"}}
            )
        outcomes = {}
        for _ in range(12):
            f = await a.recv()
            while f["op"] not in ("ack", "error"):
                f = await a.recv()
            outcomes[f["cid"]] = f
        acks = [f for f in outcomes.values() if f["op"] == "ack"]
        limited = [f for f in outcomes.values() if f["op"] == "error"]
        assert sorted(f["cid"] for f in acks) == [f"f{i}" for i in range(5)]
        assert sorted(f["cid"] for f in limited) == sorted(f"f{i}" for i in range(5, 12))
        assert all(f["code"] == "rate_limited" and f["details"]["retry_after"] >= 1 for f in limited)
        await a.roundtrip()  # pings are not metered
    r = await client.get(f"/v1/conversations/{conv}/messages", headers=alice.headers)
    assert len(r.json()["items"]) == len(acks), "limited sends are not stored"


async def test_a_client_that_stops_answering_pings_is_closed(server, users):
    alice = await users.make("alice")
    async with websockets.connect(ws_url(server, alice.token)) as ws:
        assert json.loads(await ws.recv())["op"] == "ready"
        seen = []
        with anyio.fail_after(WAIT_S), pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                seen.append(json.loads(await ws.recv())["op"])
        assert "ping" in seen
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4408


async def test_a_client_that_answers_pings_stays_connected(server, users):
    alice = await users.make("alice")
    async with ws_connect(server, alice) as a:
        # Four pings, each answered: the connection outlives twice the 0.6 s a silent
        # client gets (a close would end the wait with ConnectionClosed).
        for _ in range(4):
            await a.expect("ping")
            await a.send({"op": "pong"})
        await a.roundtrip()


async def test_no_credentials_in_time_is_refused(server):
    async with websockets.connect(ws_url(server)) as ws:
        err = json.loads(await ws.recv())
        assert err["op"] == "error" and err["code"] == "unauthenticated"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
