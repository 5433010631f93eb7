"""Who is online: a socket on this worker, a live entry from another worker, nobody."""

from __future__ import annotations

import pytest

from app.realtime import presence
from app.realtime.hub import user_channel


@pytest.mark.parametrize("real", [False, pytest.param(True, marks=pytest.mark.real_backends)])
async def test_online_counts_local_sockets_and_other_workers_entries(rt, real):
    await rt.hub.start()
    try:
        await _check(rt)
    finally:
        await rt.hub.close()


async def _check(rt):
    await presence.connected(rt, "u_elsewhere", "conn-1")  # a socket on another worker
    await presence.connected(rt, "u_gone", "conn-2")
    await presence.disconnected(rt, "u_gone", "conn-2")
    async with rt.hub.subscribe([user_channel("u_here")]):  # a socket on this worker
        found = await presence.online(rt, ["u_here", "u_elsewhere", "u_gone", "u_never", "u_elsewhere"])
        assert found == {"u_here", "u_elsewhere"}
        assert await presence.online(rt, ["u_here"]) == {"u_here"}
    assert await presence.online(rt, ["u_here", "u_never"]) == set()
    assert await presence.online(rt, []) == set()
