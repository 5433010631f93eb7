"""The Redis fast path in front of a hold: each campaign's budget counters and users.

Only a filter — PostgreSQL decides (``campaign_hold``). A quote asks Redis first, in one
script call that checks and takes in one step: the cardholder is not in the campaign's
users (of the campaign, or of the day), the discount fits the total and the day's
budget. So when a campaign runs dry, the crowd is answered from Redis and does not queue
on the campaign's row in PostgreSQL.

Keys of one campaign share the hash tag ``{cp:<id>}`` (one Redis Cluster slot):

- ``…:state`` hash: ``total`` and ``daily`` (budgets, 0 = none), ``spent`` (held + paid),
  ``d:<day>`` (the day's);
- ``…:users:<use key>``: the cardholders who used it (``-`` for per campaign, or the day).

``reconcile`` rebuilds them from PostgreSQL in one MULTI (at start-up, when a script finds
them missing, after PostgreSQL refused what Redis let through). Why drift is safe:
Redis counting too much (a worker died between its Redis hold and its commit) can only
refuse a quote early, until the next reconcile; counting too little (a rebuild while
holds were in flight) only sends a few quotes to PostgreSQL, whose conditional updates
refuse them. Money is never decided here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from redis.commands.core import AsyncScript

from app.runtime import Runtime, Slot

USERS_TTL_S = 3 * 86_400  # a day's users key outlives its day

# KEYS: state, users. ARGV: user, discount, day. → -1 not loaded (reconcile), 0 over a
# budget, 1 held, 2 this cardholder's use is taken.
_HOLD = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 2 end
local d = tonumber(ARGV[2])
local total = tonumber(redis.call('HGET', KEYS[1], 'total'))
local daily = tonumber(redis.call('HGET', KEYS[1], 'daily') or '0')
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
if spent + d > total then return 0 end
local dk = 'd:' .. ARGV[3]
if daily > 0 and tonumber(redis.call('HGET', KEYS[1], dk) or '0') + d > daily then return 0 end
redis.call('HINCRBY', KEYS[1], 'spent', d)
redis.call('HINCRBY', KEYS[1], dk, d)
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""

# KEYS: state, users. ARGV: user, discount, day, restore use (1/0). Gives a hold back
# (expired, refused by PostgreSQL, refunded); nothing when the state is not loaded.
_RELEASE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local d = tonumber(ARGV[2])
if d > 0 then
  local dk = 'd:' .. ARGV[3]
  if redis.call('HINCRBY', KEYS[1], 'spent', -d) < 0 then redis.call('HSET', KEYS[1], 'spent', 0) end
  if redis.call('HINCRBY', KEYS[1], dk, -d) < 0 then redis.call('HSET', KEYS[1], dk, 0) end
end
if ARGV[4] == '1' then redis.call('SREM', KEYS[2], ARGV[1]) end
return 1
"""

NOT_LOADED, OVER_BUDGET, HELD, USED = -1, 0, 1, 2

_SCRIPTS: Slot[dict[str, AsyncScript]] = Slot("campaigns.scripts", lambda rt: {})


def _script(rt: Runtime, source: str) -> AsyncScript:
    """The script registered once per runtime: EVALSHA, not the source on every call."""
    scripts = rt.slot(_SCRIPTS)
    found = scripts.get(source)
    if found is None:
        found = scripts[source] = rt.redis.register_script(source)
    return found


def _tag(campaign_id: str) -> str:
    return "{cp:" + campaign_id + "}"


def state_key(rt: Runtime, campaign_id: str) -> str:
    return rt.keys(_tag(campaign_id), "state")


def users_key(rt: Runtime, campaign_id: str, use_key: str) -> str:
    return rt.keys(_tag(campaign_id), "users", use_key or "-")


def version_key(rt: Runtime) -> str:
    """Bumped whenever a campaign changes: workers reload their active campaigns."""
    return rt.keys("cp", "version")


async def hold(
    rt: Runtime, *, campaign_id: str, user_id: str, discount_fen: int, day: str, use_key: str
) -> int:
    """Take the cardholder's use and the discount from the budgets: HELD, USED,
    OVER_BUDGET, or NOT_LOADED (call ``reconcile`` and ask again)."""
    keys = [state_key(rt, campaign_id), users_key(rt, campaign_id, use_key)]
    return int(await _script(rt, _HOLD)(keys, [user_id, discount_fen, day, USERS_TTL_S]))


async def release(
    rt: Runtime,
    *,
    campaign_id: str,
    user_id: str,
    discount_fen: int,
    day: str,
    use_key: str,
    restore_use: bool,
) -> None:
    """Give back what ``hold`` took: the discount, and the use when ``restore_use``."""
    keys = [state_key(rt, campaign_id), users_key(rt, campaign_id, use_key)]
    await _script(rt, _RELEASE)(keys, [user_id, discount_fen, day, "1" if restore_use else "0"])


@dataclass(frozen=True)
class Snapshot:
    """What PostgreSQL holds for a campaign: the Redis state is rebuilt from it."""

    campaign_id: str
    total_budget_fen: int
    daily_budget_fen: int | None
    spent_fen: int
    days: dict[date, int]
    users: dict[str, list[str]]  # use key → user ids


async def load(rt: Runtime, snap: Snapshot) -> None:
    """Replace a campaign's Redis state with ``snap``, atomically (one MULTI/EXEC)."""
    state = state_key(rt, snap.campaign_id)
    fields: dict[str, int] = {
        "total": snap.total_budget_fen,
        "daily": snap.daily_budget_fen or 0,
        "spent": snap.spent_fen,
    }
    fields.update({f"d:{day.isoformat()}": spent for day, spent in snap.days.items()})
    async with rt.redis.pipeline(transaction=True) as pipe:
        pipe.delete(state)
        pipe.hset(state, mapping=fields)  # type: ignore[arg-type]
        for use_key, user_ids in snap.users.items():
            key = users_key(rt, snap.campaign_id, use_key)
            pipe.delete(key)
            for i in range(0, len(user_ids), 1000):
                pipe.sadd(key, *user_ids[i : i + 1000])
            if use_key:
                pipe.expire(key, USERS_TTL_S)
        await pipe.execute()


async def drop(rt: Runtime, campaign_id: str, use_keys: Iterable[str]) -> None:
    """Forget an ended campaign's state."""
    await rt.redis.delete(state_key(rt, campaign_id), *(users_key(rt, campaign_id, k) for k in use_keys))


def recent_days(today: date) -> list[str]:
    """The per-day use keys a rebuild loads: yesterday's and today's (older days are over)."""
    return [(today - timedelta(days=1)).isoformat(), today.isoformat()]
