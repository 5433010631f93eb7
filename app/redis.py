"""Redis wiring: a real server (``redis://``) or an in-process one (``memory://``).

The in-process backend is fakeredis, so the same redis-py calls (sorted sets, Lua,
pub/sub) run on both. Every key goes through ``Keys`` so that a deployment (or a test
run) can share one Redis under its own prefix.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from app.config import Settings


def make_redis(settings: Settings) -> aioredis.Redis:
    if settings.redis_url.startswith("memory://"):
        try:
            import fakeredis
        except ImportError:
            raise SystemExit(
                "QUANZI_REDIS_URL=memory:// needs the in-process Redis: pip install 'quanzi[local]' "
                "(or point QUANZI_REDIS_URL at a Redis server)"
            ) from None

        return fakeredis.FakeAsyncRedis(decode_responses=True)
    return aioredis.from_url(settings.redis_url, decode_responses=True, max_connections=200)


class Keys:
    """Builds prefixed key names: ``keys("otp", phone_hash)`` → ``qz:otp:<hash>``."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, *parts: Any) -> str:
        return self.prefix + ":".join(str(p) for p in parts)
