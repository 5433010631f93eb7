"""Redis wiring: a real server (``redis://``), a Redis Cluster (``redis+cluster://``) or
an in-process one (``memory://``).

The in-process backend is fakeredis, so the same redis-py calls (sorted sets, Lua,
pub/sub) run on all of them. Every key goes through ``Keys`` so that a deployment (or a
test run) can share one Redis under its own prefix.

On a cluster (``redis+cluster://host:port[,host:port…]``, any of the masters: the client
discovers the rest) every Lua script, MULTI/EXEC pipeline and RENAME must keep its keys
on one slot: the keys that go together share a hash tag (``hash_tag``: the red-packet
gate per packet, a campaign's holds, a leaderboard's buckets, a phone's OTP counters),
and the hub publishes with sharded pub/sub (``app/realtime/hub.py``). Non-transactional
pipelines and multi-key DEL may span slots: the cluster client splits them per node.
"""

from __future__ import annotations

from typing import Any, cast

import redis.asyncio as aioredis

from app.config import Settings

CLUSTER_SCHEME = "redis+cluster://"


def is_cluster(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEME)


def hash_tag(part: str) -> str:
    """``{part}``: keys with the same tag hash to the same cluster slot."""
    return "{" + part + "}"


def cluster_nodes(url: str) -> list[tuple[str, int]]:
    """``redis+cluster://a:7000,b:7001`` → ``[("a", 7000), ("b", 7001)]``. Raises ValueError."""
    nodes = []
    for part in url.removeprefix(CLUSTER_SCHEME).split("/")[0].split(","):
        host, sep, port = part.strip().rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"{part!r} is not host:port")
        nodes.append((host.strip("[]"), int(port)))
    return nodes


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
    if is_cluster(settings.redis_url):
        from redis.asyncio.cluster import ClusterNode, RedisCluster

        cluster = RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in cluster_nodes(settings.redis_url)],
            decode_responses=True,
            max_connections=200,
        )
        # The same command API as one server: the callers' types stay ``Redis``.
        return cast(aioredis.Redis, cluster)
    return aioredis.from_url(settings.redis_url, decode_responses=True, max_connections=200)


class Keys:
    """Builds prefixed key names: ``keys("otp", phone_hash)`` → ``qz:otp:<hash>``."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, *parts: Any) -> str:
        return self.prefix + ":".join(str(p) for p in parts)
