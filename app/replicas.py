"""Reads that may be slightly stale, served by PostgreSQL streaming replicas.

``QUANZI_DATABASE_REPLICA_URLS`` lists hot standbys of the primary (comma-separated).
A read path that tolerates staleness — feeds, leaderboards rebuilt from SQL, message
history, statements — opens ``rt.read_session(user_id)`` instead of the primary session;
every write stays on the primary. Two rules decide where such a read goes:

- **bounded staleness**: a replica is used only while its lag is at most
  ``replica_max_lag_s``. Lag is measured at most every ``replica_lag_check_s`` per worker
  (one cheap query to the primary, one per replica): a replica that has replayed up to
  the primary's current WAL position has no lag; otherwise its lag is the time since
  the last transaction it replayed (``pg_last_xact_replay_timestamp()``), an upper
  bound (an idle primary followed by one new commit reads as a long lag: the read goes
  to the primary, which is safe). A replica that does not answer counts as lagging.
- **read your own writes**: when a user's unit of work commits, the primary's WAL
  position after the commit is remembered in Redis for ``replica_own_writes_s``
  (a Lua max, so concurrent writes never lower it). That user's reads use only a
  replica that has replayed past it (checked with the cached position; when the cache
  is older than the write, the replica is asked again), else the primary.

Without replica URLs ``read_session`` is the primary session and nothing is recorded.
The acting user is a context variable (``acting_user``), set by authentication (HTTP and
WebSocket), so every unit of work of that request or socket records the user's writes.
"""

from __future__ import annotations

import contextvars
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import redis.asyncio as aioredis
import structlog
from prometheus_client import Counter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.redis import Keys

log = structlog.get_logger()

# The user on whose behalf this request or socket works (set by authentication).
acting_user: contextvars.ContextVar[str | None] = contextvars.ContextVar("quanzi_acting_user", default=None)

# The primary sessions' ``info`` key holding the ReplicaSet (read by the unit of work).
REPLICAS_INFO = "quanzi.replicas"

READS = Counter("quanzi_db_reads", "Stale-tolerant reads by where they went", ["target", "reason"])

_PRIMARY_LSN = text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
_REPLICA_STATE = text(
    "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint,"
    " EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8"
)
# Keep the larger of the stored and the new WAL position; refresh the expiry.
_MAX_LSN = """
local old = tonumber(redis.call('GET', KEYS[1]) or '0')
local new = tonumber(ARGV[1])
if new > old then old = new end
redis.call('SET', KEYS[1], tostring(old), 'PX', ARGV[2])
return old
"""


@dataclass
class Replica:
    url: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    checked_at: float = -1e18  # time.monotonic() of the last measurement
    replayed_lsn: int = -1  # WAL position replayed, as bytes since 0/0
    lag_s: float = float("inf")


@dataclass
class ReplicaSet:
    """The replicas of one runtime, their measured lag, and the per-user write marks."""

    settings: Settings
    primary: AsyncEngine
    redis: aioredis.Redis
    keys: Keys
    replicas: list[Replica]
    _primary_lsn: int = 0
    _max_lsn: object = field(default=None, repr=False)

    def _own_key(self, user_id: str) -> str:
        return self.keys("rw", user_id)

    # -- writes ---------------------------------------------------------------------------

    async def note_writes(self, user_ids: set[str]) -> None:
        """Remember the primary's WAL position now (after these users' commit)."""
        if not user_ids:
            return
        try:
            async with self.primary.connect() as conn:
                lsn = int(await conn.scalar(_PRIMARY_LSN) or 0)
            if self._max_lsn is None:
                self._max_lsn = self.redis.register_script(_MAX_LSN)
            ttl_ms = int(self.settings.replica_own_writes_s * 1000)
            for user_id in user_ids:
                await self._max_lsn(keys=[self._own_key(user_id)], args=[lsn, ttl_ms])  # type: ignore[operator]
        except Exception:
            # Not remembered: these users' next reads may be stale; the writes themselves stand.
            log.warning("replica_write_mark_failed", users=sorted(user_ids), exc_info=True)

    # -- lag --------------------------------------------------------------------------------

    async def _measure(self, now: float) -> None:
        async with self.primary.connect() as conn:
            self._primary_lsn = int(await conn.scalar(_PRIMARY_LSN) or 0)
        for r in self.replicas:
            try:
                async with r.engine.connect() as conn:
                    replayed, since = (await conn.execute(_REPLICA_STATE)).one()
            except Exception:
                log.warning("replica_unreachable", url=r.engine.url.render_as_string(), exc_info=True)
                r.replayed_lsn, r.lag_s = -1, float("inf")
            else:
                r.replayed_lsn = int(replayed) if replayed is not None else -1
                caught_up = r.replayed_lsn >= self._primary_lsn
                r.lag_s = 0.0 if caught_up else (float(since) if since is not None else float("inf"))
            r.checked_at = now

    async def _fresh_enough(self, min_lsn: int) -> list[Replica]:
        now = time.monotonic()
        oldest = min((r.checked_at for r in self.replicas), default=now)
        if now - oldest >= self.settings.replica_lag_check_s:
            await self._measure(now)
        bound = self.settings.replica_max_lag_s
        usable = [r for r in self.replicas if r.lag_s <= bound]
        if min_lsn and not all(r.replayed_lsn >= min_lsn for r in usable):
            # The user wrote after the cached measurement: ask the replicas again.
            await self._measure(time.monotonic())
            usable = [r for r in self.replicas if r.lag_s <= bound and r.replayed_lsn >= min_lsn]
        return usable

    async def choose(self, user_id: str | None) -> tuple[async_sessionmaker[AsyncSession] | None, str]:
        """The sessionmaker of a replica fit for ``user_id``'s read, or None (the primary),
        and why."""
        min_lsn = 0
        if user_id is not None:
            stored = await self.redis.get(self._own_key(user_id))
            min_lsn = int(stored) if stored else 0
        usable = await self._fresh_enough(min_lsn)
        if not usable:
            return None, "own_write" if min_lsn else "lag"
        return random.choice(usable).sessionmaker, "fresh"

    async def close(self) -> None:
        for r in self.replicas:
            await r.engine.dispose()


def make_replica_set(
    settings: Settings, primary: AsyncEngine, redis: aioredis.Redis, keys: Keys
) -> ReplicaSet | None:
    """The replicas of ``settings`` (None when there are none)."""
    from app.db import make_engine, make_sessionmaker

    urls = settings.replica_urls
    if not urls:
        return None
    replicas = []
    for url in urls:
        engine = make_engine(settings.model_copy(update={"database_url": url}))
        replicas.append(Replica(url=url, engine=engine, sessionmaker=make_sessionmaker(engine)))
    return ReplicaSet(settings=settings, primary=primary, redis=redis, keys=keys, replicas=replicas)


@asynccontextmanager
async def read_session(
    replicas: ReplicaSet | None, primary: async_sessionmaker[AsyncSession], user_id: str | None
) -> AsyncIterator[AsyncSession]:
    """A session for a stale-tolerant read by ``user_id`` (see the module docstring)."""
    chosen, reason = (None, "none") if replicas is None else await replicas.choose(user_id)
    READS.labels("replica" if chosen is not None else "primary", reason).inc()
    maker = chosen or primary
    async with maker() as session:
        session.info["quanzi.read_target"] = "replica" if chosen is not None else "primary"
        yield session
