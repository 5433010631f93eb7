"""The long-lived parts a request or job works with, built once per process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.clock import Clock, FrozenClock
from app.config import Settings
from app.db import make_engine, make_sessionmaker, resolve_database
from app.realtime.hub import Hub, make_hub
from app.redis import Keys, make_redis


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: aioredis.Redis
    keys: Keys
    hub: Hub
    extras: dict[str, Any]

    async def sync_clock(self) -> None:
        """Pick up a dev-clock move made on another worker (dev and test only)."""
        if not self.settings.is_dev:
            return
        offset = await self.redis.get(self.keys("dev", "clock_offset"))
        if offset is not None:
            self.clock.set_offset(float(offset))

    async def advance_clock(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await self.redis.set(self.keys("dev", "clock_offset"), repr(self.clock.offset_s))

    async def close(self) -> None:
        await self.hub.close()
        await self.redis.aclose()
        await self.engine.dispose()


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    settings = resolve_database(settings)
    if clock is None:
        start = settings.clock_start if settings.is_dev else None
        clock = FrozenClock(start, settings.timezone) if start else Clock(settings.timezone)
    engine = make_engine(settings)
    redis = make_redis(settings)
    return Runtime(
        settings=settings,
        clock=clock,
        engine=engine,
        sessionmaker=make_sessionmaker(engine),
        redis=redis,
        keys=Keys(settings.redis_prefix),
        hub=make_hub(settings.redis_url, redis, settings.redis_prefix),
        extras={},
    )
