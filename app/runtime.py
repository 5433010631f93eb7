"""The long-lived parts a request or job works with, built once per process.

Everything the platform itself needs is a typed field. A feature that keeps an object per
runtime (its batcher, a compiled filter, a registered Lua script) declares a typed
``Slot`` for it and asks ``rt.slot(SLOT)``: the platform does not know the type, mypy does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.clock import Clock, FrozenClock
from app.config import Settings
from app.db import make_engine, make_sessionmaker, resolve_database
from app.metrics import count_round_trips
from app.realtime.hub import Hub, make_hub
from app.redis import Keys, make_redis
from app.replicas import REPLICAS_INFO, ReplicaSet, make_replica_set, read_session

if TYPE_CHECKING:
    from app.scheduler.runner import JobRunner

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Slot(Generic[T]):
    """A place for one per-runtime object of type ``T``, made by ``make(rt)`` on first use.

    ``BATCHER: Slot[SendBatcher] = Slot("chat.batcher", SendBatcher)`` then
    ``rt.slot(BATCHER)`` is this runtime's batcher. Slots compare by identity."""

    name: str
    make: Callable[[Runtime], T]


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: aioredis.Redis
    keys: Keys
    hub: Hub
    # HTTP requests of this worker that use the database at once (``app/admission.py``).
    admission: asyncio.Semaphore
    # The registered periodic jobs (set by ``create_app``; run by its loop and the dev clock).
    jobs: JobRunner | None = None
    # Hot standbys for stale-tolerant reads (``app/replicas.py``); None: reads use the primary.
    replicas: ReplicaSet | None = None
    _slots: dict[Slot[Any], Any] = field(default_factory=dict, repr=False)

    def slot(self, slot: Slot[T]) -> T:
        """This runtime's object for ``slot``, made on first use."""
        try:
            found: T = self._slots[slot]
        except KeyError:
            found = self._slots[slot] = slot.make(self)
        return found

    def read_session(self, user_id: str | None) -> AbstractAsyncContextManager[AsyncSession]:
        """A session for a read that may be slightly stale (feeds, history, statements,
        leaderboards): on a replica within ``replica_max_lag_s`` that has replayed
        ``user_id``'s own last write, else on the primary (``app/replicas.py``)."""
        return read_session(self.replicas, self.sessionmaker, user_id)

    def replace_slot(self, slot: Slot[T], value: T) -> None:
        """Put ``value`` in ``slot`` (tests, or a feature that rebuilds its object)."""
        self._slots[slot] = value

    async def sync_clock(self) -> None:
        """Pick up a dev-clock move made on another worker (dev and test only)."""
        from app.devtools import clock as dev_clock

        await dev_clock.sync(self)

    async def advance_clock(self, seconds: float, *, moved_by: str | None = None) -> None:
        """Move business time forward (dev and test): shared with the other workers and
        kept in the database, so it survives a restart (``app/devtools/clock.py``)."""
        from app.devtools import clock as dev_clock

        await dev_clock.advance(self, seconds, moved_by=moved_by)

    async def close(self) -> None:
        await self.hub.close()
        await self.redis.aclose()
        if self.replicas is not None:
            await self.replicas.close()
        await self.engine.dispose()


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    settings = resolve_database(settings)
    if clock is None:
        start = settings.clock_start if settings.is_dev else None
        clock = FrozenClock(start, settings.timezone) if start else Clock(settings.timezone)
    engine = make_engine(settings)
    count_round_trips(engine)
    redis = make_redis(settings)
    keys = Keys(settings.redis_prefix)
    replicas = make_replica_set(settings, engine, redis, keys)
    for replica in replicas.replicas if replicas else []:
        count_round_trips(replica.engine)
    return Runtime(
        settings=settings,
        clock=clock,
        engine=engine,
        sessionmaker=make_sessionmaker(engine, {REPLICAS_INFO: replicas} if replicas else None),
        redis=redis,
        keys=keys,
        replicas=replicas,
        hub=make_hub(settings.redis_url, redis, settings.redis_prefix),
        admission=asyncio.Semaphore(settings.requests_in_flight),
    )
