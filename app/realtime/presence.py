"""Who has a live socket, across workers: one Redis sorted set per user of their
connections, scored by when each stops counting unless refreshed.

The gateway calls ``connected`` when a socket is ready, ``refresh`` on its heartbeat and
``disconnected`` when it closes; a worker that dies leaves entries that lapse after
``ttl_s`` (a few heartbeats). ``online(rt, user_ids)`` answers in one round trip at most
(none for users with a socket on this worker: the hub's local subscriptions say so). Used for
presence frames and to decide who gets an offline push. Presence is expendable: on an
empty Redis everyone is offline until their sockets' next heartbeat.

Transport time (``time.time()``), like the heartbeat, not the business clock.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from redis.commands.core import AsyncScript

from app.realtime.hub import user_channel
from app.redis import is_cluster
from app.runtime import Runtime, Slot


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


# Which of KEYS have a member scored at or after ARGV[1]: their 1-based positions.
_ONLINE = """
local out = {}
for i, key in ipairs(KEYS) do
    if redis.call('ZCOUNT', key, ARGV[1], '+inf') > 0 then out[#out + 1] = i end
end
return out
"""

_SCRIPT: Slot[AsyncScript] = Slot("presence.online", lambda rt: rt.redis.register_script(_ONLINE))


async def online(rt: Runtime, user_ids: Iterable[str]) -> set[str]:
    """Those of ``user_ids`` with at least one live socket on any worker. A user with a
    socket on this worker is online without asking Redis; the others are looked up in
    one command (one pipeline of ``ZCOUNT``s on a cluster, whose keys span slots)."""
    ids = list(dict.fromkeys(user_ids))
    here = {uid for uid in ids if rt.hub.local_subscribers(user_channel(uid))}
    ask = [uid for uid in ids if uid not in here]
    if not ask:
        return here
    now = time.time()
    if is_cluster(rt.settings.redis_url):
        async with rt.redis.pipeline(transaction=False) as pipe:
            for uid in ask:
                pipe.zcount(_key(rt, uid), now, "+inf")
            counts = await pipe.execute()
        return here | {uid for uid, n in zip(ask, counts, strict=True) if n}
    found = await rt.slot(_SCRIPT)(keys=[_key(rt, uid) for uid in ask], args=[now])
    return here | {ask[int(i) - 1] for i in found}
