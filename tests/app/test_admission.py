"""``app.admission``: requests work in arrival order once a worker is full, and a request
that cannot get its turn in time is answered 503 ``unavailable``."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from app.admission import admitted
from app.errors import Unavailable


def worker(rt, *, in_flight: int, timeout_s: float = 30.0):
    settings = rt.settings.model_copy(
        update={"max_requests_in_flight": in_flight, "db_pool_timeout_s": timeout_s}
    )
    return SimpleNamespace(settings=settings, admission=asyncio.Semaphore(settings.requests_in_flight))


async def test_once_full_requests_are_served_in_arrival_order(rt):
    w = worker(rt, in_flight=1)
    order: list[str] = []
    release_first = asyncio.Event()

    async def request(name: str, hold: asyncio.Event | None = None) -> None:
        async with admitted(w):
            order.append(name)
            if hold is not None:
                await hold.wait()

    first = asyncio.create_task(request("first", release_first))
    await asyncio.sleep(0)  # first is in
    waiting = [asyncio.create_task(request(f"w{i}")) for i in range(5)]
    await asyncio.sleep(0)  # all five queue behind it
    release_first.set()
    late = asyncio.create_task(request("late"))  # arrives as the slot frees: still last
    await asyncio.gather(first, *waiting, late)
    assert order == ["first", "w0", "w1", "w2", "w3", "w4", "late"]


async def test_a_request_that_cannot_get_its_turn_in_time_is_unavailable(rt):
    w = worker(rt, in_flight=1, timeout_s=0)
    async with admitted(w):
        with pytest.raises(Unavailable):
            async with admitted(w):
                pass
    async with admitted(w):  # the refused request did not keep a slot
        pass
