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

    async def request(name: str, arrived: asyncio.Event, hold: asyncio.Event | None = None) -> None:
        # Set just before asking for a turn: the task runs on into ``admitted`` without
        # yielding until it holds the slot or waits in the queue, so once the test sees the
        # event, the request is in (or in line), whatever the scheduler did meanwhile.
        arrived.set()
        async with admitted(w):
            order.append(name)
            if hold is not None:
                await hold.wait()

    async def arrive(name: str, hold: asyncio.Event | None = None) -> asyncio.Task[None]:
        arrived = asyncio.Event()
        task = asyncio.create_task(request(name, arrived, hold))
        await asyncio.wait_for(arrived.wait(), 30)
        return task

    first = await arrive("first", release_first)
    assert order == ["first"]  # in, and holding the only slot
    waiting = [await arrive(f"w{i}") for i in range(5)]  # in line behind it, in this order
    assert order == ["first"]
    release_first.set()
    late = asyncio.create_task(request("late", asyncio.Event()))  # arrives as the slot frees: still last
    await asyncio.wait_for(asyncio.gather(first, *waiting, late), 30)
    assert order == ["first", "w0", "w1", "w2", "w3", "w4", "late"]


async def test_a_request_that_cannot_get_its_turn_in_time_is_unavailable(rt):
    w = worker(rt, in_flight=1, timeout_s=0)
    async with admitted(w):
        with pytest.raises(Unavailable):
            async with admitted(w):
                pass
    async with admitted(w):  # the refused request did not keep a slot
        pass
