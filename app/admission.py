"""Admission: how many HTTP requests of a worker use the database at once; the rest wait
in arrival order.

SQLAlchemy's async pool hands a returned connection to whichever coroutine asks for one
first, not to the one that has waited longest (``asyncio.Queue``: a woken waiter that
loses the race queues again at the back). Under overload most requests pass while a few
starve until the pool timeout: in the red-packet storm, a p99 of 13 s and 503s after 30 s
against a mean of 1.6 s. A FIFO semaphore in front (``asyncio.Semaphore`` wakes its waiters
in order) keeps the pool's own queue short, so requests are served in the order they came.

The pool keeps a few connections above this limit for the WebSocket gateway, the chat
batcher and the background jobs, which do not pass through here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from app.errors import Unavailable
from app.runtime import Runtime


@asynccontextmanager
async def admitted(rt: Runtime) -> AsyncIterator[None]:
    """Wait for this request's turn (503 ``unavailable`` after ``db_pool_timeout_s``)."""
    gate = rt.admission
    try:
        async with asyncio.timeout(rt.settings.db_pool_timeout_s):
            await gate.acquire()
    except TimeoutError:
        raise Unavailable() from None
    try:
        yield
    finally:
        gate.release()
