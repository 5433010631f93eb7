"""Who has a live socket, across workers: one Redis sorted set per user of their
connections, scored by when each stops counting unless refreshed.

The gateway calls ``connected`` when a socket is ready, ``refresh`` on its heartbeat and
``disconnected`` when it closes; a worker that dies leaves entries that lapse after
``ttl_s`` (a few heartbeats). ``online(rt, user_ids)`` answers in one round trip. Used for
presence frames and to decide who gets an offline push. Presence is expendable: on an
empty Redis everyone is offline until their sockets' next heartbeat.

Transport time (``time.time()``), like the heartbeat, not the business clock.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from app.runtime import Runtime


def _key(rt: Runtime, user_id: str) -> str:
    return rt.keys("presence", user_id)


def ttl_s(rt: Runtime) -> float:
    return rt.settings.ws_heartbeat_s * (rt.settings.ws_heartbeat_misses + 1)


async def connected(rt: Runtime, user_id: str, connection_id: str) -> None:
    await refresh(rt, user_id, connection_id)


async def refresh(rt: Runtime, user_id: str, connection_id: str) -> None:
    key, now, ttl = _key(rt, user_id), time.time(), ttl_s(rt)
    async with rt.redis.pipeline(transaction=False) as pipe:
        pipe.zadd(key, {connection_id: now + ttl})
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.expire(key, int(ttl) + 1)
        await pipe.execute()


async def disconnected(rt: Runtime, user_id: str, connection_id: str) -> None:
    await rt.redis.zrem(_key(rt, user_id), connection_id)


async def online(rt: Runtime, user_ids: Iterable[str]) -> set[str]:
    """Those of ``user_ids`` with at least one live socket on any worker."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return set()
    now = time.time()
    async with rt.redis.pipeline(transaction=False) as pipe:
        for uid in ids:
            pipe.zcount(_key(rt, uid), now, "+inf")
        counts = await pipe.execute()
    return {uid for uid, n in zip(ids, counts, strict=True) if n}
