"""``users.last_active_at``: written on authenticated requests and socket activity, at most
once per ``last_active_every_s`` per user (read by the advisor's client summary)."""

from __future__ import annotations

import pytest_asyncio

from app.auth import service as auth
from tests.support.servers import running_servers
from tests.support.ws import ws_connect


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(base_settings):
    async with running_servers(base_settings) as [srv]:
        yield srv


async def last_active(rt, person):
    async with rt.sessionmaker() as db:
        profile = await auth.get_profile(db, person.id)
    assert profile is not None
    return profile.last_active_at


async def test_requests_write_last_active_at_throttled(client, users, rt):
    lina = await users.make("lina")
    assert await last_active(rt, lina) is None
    assert (await client.get("/v1/me", headers=lina.headers)).status_code == 200
    first = await last_active(rt, lina)
    assert first == rt.clock.now()
    await rt.advance_clock(60)  # within the throttle: not written again
    await client.get("/v1/me", headers=lina.headers)
    assert await last_active(rt, lina) == first
    await rt.advance_clock(rt.settings.last_active_every_s)
    await client.get("/v1/me", headers=lina.headers)
    assert await last_active(rt, lina) == rt.clock.now() > first
    assert (await client.get("/v1/me")).status_code == 401  # nobody to mark


async def test_an_open_socket_marks_its_user_active(server, users, rt):
    bob = await users.make("bob")
    async with ws_connect(server, bob) as ws:
        await ws.roundtrip()
        assert await last_active(rt, bob) is not None


async def test_a_users_requests_in_flight_together_write_it_once(client, users, rt):
    # Each request carries the row as authentication read it (never written): only the
    # first of them writes, the others see this worker's own write.
    lina = await users.make("lina")
    assert auth.activity_due(rt, lina.id, None)
    async with rt.sessionmaker() as db:
        await auth.note_activity(db, rt, user_id=lina.id)
    assert not auth.activity_due(rt, lina.id, None)
    await rt.advance_clock(rt.settings.last_active_every_s)
    assert auth.activity_due(rt, lina.id, None)
