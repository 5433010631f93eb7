"""Rate limits kept in Redis (expendable state).

``fixed_window`` counts hits per key per window; ``token_bucket`` spends from a bucket
that refills continuously (one Lua script, atomic across workers).
"""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from app.errors import RateLimited

_BUCKET = """
local key = KEYS[1]
local capacity = tonumber(ARGV[1])
local refill_per_s = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', key, 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil then tokens = capacity; at = now end
tokens = math.min(capacity, tokens + (now - at) * refill_per_s)
local ok = 0
if tokens >= cost then tokens = tokens - cost; ok = 1 end
redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', key, math.ceil(capacity / refill_per_s) + 60)
return {ok, tostring(tokens)}
"""


async def fixed_window(redis: aioredis.Redis, key: str, *, limit: int, window_s: int) -> None:
    """Count one hit. Raises RateLimited when the window's limit is passed."""
    window = int(time.time()) // window_s
    full_key = f"{key}:{window}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(full_key)
        pipe.expire(full_key, window_s + 5)
        count, _ = await pipe.execute()
    if int(count) > limit:
        retry_after = window_s - int(time.time()) % window_s
        raise RateLimited(retry_after=retry_after, limit=limit, window_s=window_s)


async def token_bucket(
    redis: aioredis.Redis,
    key: str,
    *,
    capacity: float,
    refill_per_s: float,
    cost: float,
    now: float | None = None,
) -> float:
    """Spend ``cost`` tokens; returns what is left. Raises RateLimited when short."""
    at = time.time() if now is None else now
    ok, left = await redis.eval(_BUCKET, 1, key, capacity, refill_per_s, at, cost)  # type: ignore[misc]
    remaining = float(left)
    if int(ok) != 1:
        shortfall = cost - remaining
        raise RateLimited(retry_after=int(shortfall / refill_per_s) + 1, remaining=int(remaining))
    return remaining
