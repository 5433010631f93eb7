"""The dev clock of real server processes: business time starts where the test put it
(``QUANZI_CLOCK_START``), stands still, and a move on one worker is seen on the others, as
the bank's day turns at midnight in Shanghai."""

from __future__ import annotations

import httpx
import pytest

from tests.support.clock import BEFORE_BANK_MIDNIGHT, ONE_MINUTE
from tests.support.servers import running_servers


@pytest.mark.real_backends
@pytest.mark.clock_start(BEFORE_BANK_MIDNIGHT)
async def test_two_workers_share_a_business_clock_that_moves_only_when_told(settings, users):
    li = await users.make("li")
    async with running_servers(settings, count=2) as (a, b), httpx.AsyncClient() as c:

        async def clock(server) -> dict:
            r = await c.get(server.url + "/v1/dev/clock")
            assert r.status_code == 200, r.text
            return r.json()  # type: ignore[no-any-return]

        async def quiz_day(server) -> str:
            r = await c.get(server.url + "/v1/farm/quiz", headers=li.headers)
            assert r.status_code == 200, r.text
            return r.json()["day"]  # type: ignore[no-any-return]

        for server in (a, b, a, b):  # the same instant, however long starting them took
            assert (await clock(server))["now"] == "2026-11-25T15:59:00Z"
            assert await quiz_day(server) == "2026-11-25"
        r = await c.post(a.url + "/v1/dev/clock", json={"advance_s": ONE_MINUTE}, headers=li.headers)
        assert r.status_code == 200 and r.json()["now"] == "2026-11-25T16:00:00Z"
        for server in (b, a):
            assert (await clock(server))["now"] == "2026-11-25T16:00:00Z"
            assert await quiz_day(server) == "2026-11-26"  # midnight in Shanghai, not in UTC


def test_prod_refuses_a_clock_start():
    import secrets as random

    from app.config import Settings

    secrets = {
        name: random.token_hex(32)
        for name in ("secret_key", "service_token", "phone_hmac_key", "card_token_key")
    }
    assert Settings(env="prod", **secrets).clock_start is None
    with pytest.raises(ValueError, match="QUANZI_CLOCK_START"):
        Settings(env="prod", clock_start=BEFORE_BANK_MIDNIGHT, **secrets)


async def test_the_test_runtime_stands_still_until_moved(rt):
    assert rt.clock.now() == rt.clock.now() == rt.settings.clock_start
    await rt.advance_clock(ONE_MINUTE)
    assert (rt.clock.now() - rt.settings.clock_start).total_seconds() == ONE_MINUTE
