"""The Redis fast path in front of a grab: a ticket counter per packet.

Only an optimisation — PostgreSQL decides who gets a share. The counter starts at the
packet's ``remaining_count`` as the database has it (seeded when the key is missing) and
expires after ``TTL_S``, to be seeded again. A grab takes a ticket before it touches
the packet row (one per user: a double tap does not take two); without a ticket it is answered ``sold_out`` at once, so a crowd that
arrives after the last share does not queue on the packet's row lock.

Why this is safe: handing out too many tickets (a reseed while grabs are in flight)
only sends a few extra grabs to the database, whose conditional update refuses them. A
ticket lost with a crashed worker can at worst answer ``sold_out`` early for a share
that is still there, until the key expires and is reseeded; whatever is never grabbed
goes back to the sender with the 24 h refund. Money is never decided here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from redis.commands.core import AsyncScript

from app.runtime import Runtime, Slot

TTL_S = 30

# KEYS: tickets, takers. ARGV: user id, ttl. → -1 unknown (seed it), 0 none left,
# 1 ticket taken, 2 this user already holds one (a double tap: not a second ticket).
_TAKE = """
local v = redis.call('GET', KEYS[1])
if not v then return -1 end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 2 end
if tonumber(v) <= 0 then return 0 end
redis.call('DECR', KEYS[1])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
"""

_GIVE_BACK = """
if redis.call('SREM', KEYS[2], ARGV[1]) == 1 and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('INCR', KEYS[1])
end
return 0
"""

TAKEN, ALREADY = 1, 2


_SCRIPTS: Slot[dict[str, AsyncScript]] = Slot("red_packets.scripts", lambda rt: {})


def _script(rt: Runtime, source: str) -> AsyncScript:
    """The script registered once per runtime: EVALSHA, not the source on every call."""
    scripts = rt.slot(_SCRIPTS)
    found = scripts.get(source)
    if found is None:
        found = scripts[source] = rt.redis.register_script(source)
    return found


def _keys(rt: Runtime, packet_id: str) -> list[str]:
    tag = "{" + packet_id + "}"  # one hash slot for both keys (Redis Cluster)
    return [rt.keys("red_packet", tag, "tickets"), rt.keys("red_packet", tag, "takers")]


async def take(
    rt: Runtime, packet_id: str, *, user_id: str, remaining_in_db: Callable[[], Awaitable[int]]
) -> int:
    """Take a ticket: TAKEN, 0 every share is taken (or being taken), ALREADY when this
    user's other grab holds one. ``remaining_in_db`` seeds a missing counter."""
    keys = _keys(rt, packet_id)
    script = _script(rt, _TAKE)
    got = int(await script(keys, [user_id, TTL_S]))
    if got == -1:
        await rt.redis.set(keys[0], await remaining_in_db(), nx=True, ex=TTL_S)
        got = int(await script(keys, [user_id, TTL_S]))
    return got


async def give_back(rt: Runtime, packet_id: str, *, user_id: str) -> None:
    """Return a ticket whose grab did not happen (already claimed, rolled back)."""
    await _script(rt, _GIVE_BACK)(_keys(rt, packet_id), [user_id])
