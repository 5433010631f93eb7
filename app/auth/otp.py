"""One-time login codes: issued, hashed at rest in Redis, expiring in real time.

Two limits keep a stranger from locking a person out (issue #12):

- **Wrong guesses are counted per (phone, client)**, the client being the request's
  address (after a trusted proxy's ``X-Forwarded-For``, ``app.proxy``): a client that
  guesses wrong ``otp_max_attempts`` times is refused (429) for that number until its
  window (``otp_ttl_s``) ends, while the owner's code stays valid for everyone else.
  Across all clients a code takes at most ``otp_max_attempts_total`` wrong guesses, then
  it is void (a bound on distributed guessing: 6 digits, so at most that many in a million).
- **Sends to a phone back off** instead of a flat hourly quota: the first
  ``otp_free_sends`` codes go at once, then each next one waits ``otp_resend_wait_s``,
  doubling (1, 2, 4, 8 … minutes) up to ``otp_resend_max_wait_s``, measured on the
  service clock; a quiet ``otp_resend_reset_s`` or a successful login starts over. Every
  code goes to the phone's owner, so requests by someone else only deliver them codes.
  Per client address there is still an hourly cap (``otp_per_ip_per_hour``).

The sender is pluggable; the demo sender logs the code and keeps it in an in-memory
outbox (``OUTBOX``) that dev tools and tests read.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import structlog

from app.errors import RateLimited, Unauthenticated
from app.metrics import OTP_SENT
from app.ratelimit import fixed_window
from app.redis import hash_tag
from app.runtime import Runtime

log = structlog.get_logger()

OUTBOX: dict[str, str] = {}  # masked phone → last code; demo sender only

# Returns 0 and records the send, or the seconds to wait before the next send may go.
_BACKOFF = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local free = tonumber(ARGV[2])
local base = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
local reset = tonumber(ARGV[5])
local n = tonumber(redis.call('HGET', key, 'n') or '0')
local last = tonumber(redis.call('HGET', key, 'last') or '0')
if n > 0 and now - last >= reset then n = 0 end
if n >= free then
  local wait = math.min(cap, base * 2 ^ (n - free))
  if now - last < wait then return math.ceil(wait - (now - last)) end
end
redis.call('HSET', key, 'n', n + 1, 'last', tostring(now))
redis.call('EXPIRE', key, reset + cap)
return 0
"""


def _code_hash(rt: Runtime, code: str) -> str:
    return hmac.new(rt.settings.secret_key.encode(), code.encode(), hashlib.sha256).hexdigest()


def code_key(rt: Runtime, phone_hash: str) -> str:
    # A phone's code, sends and tries share a hash tag: one MULTI touches the code and a
    # client's tries, which must be on one slot of a Redis Cluster.
    return rt.keys("otp", hash_tag(phone_hash))


def _client_tries_key(rt: Runtime, phone_hash: str, client: str) -> str:
    return rt.keys("otp_tries", hash_tag(phone_hash), hashlib.sha256(client.encode()).hexdigest()[:32])


async def issue(rt: Runtime, *, phone_hash: str, phone_masked: str, client_ip: str) -> str:
    """Create and send a code. Raises RateLimited (per client address; the phone's backoff)."""
    s = rt.settings
    await fixed_window(
        rt.redis, rt.keys("rl", "otp_ip", client_ip), limit=s.otp_per_ip_per_hour, window_s=3600
    )
    wait = await rt.redis.eval(  # type: ignore[misc]
        _BACKOFF,
        1,
        rt.keys("otp_sends", hash_tag(phone_hash)),
        rt.clock.now().timestamp(),
        s.otp_free_sends,
        s.otp_resend_wait_s,
        s.otp_resend_max_wait_s,
        s.otp_resend_reset_s,
    )
    if int(wait) > 0:
        raise RateLimited(
            "a code was sent to this number a moment ago; wait before asking again", retry_after=int(wait)
        )
    code = f"{secrets.randbelow(1_000_000):06d}"
    key = code_key(rt, phone_hash)
    async with rt.redis.pipeline(transaction=True) as pipe:
        pipe.delete(key)
        pipe.hset(key, mapping={"h": _code_hash(rt, code), "tries": 0})
        pipe.expire(key, s.otp_ttl_s)
        await pipe.execute()
    OUTBOX[phone_masked] = code
    OTP_SENT.inc()
    log.info("otp_sent", phone=phone_masked, code=code if s.is_dev else "***")
    return code


async def check(rt: Runtime, *, phone_hash: str, code: str, client: str) -> None:
    """Consume a valid code. Raises Unauthenticated (wrong, expired) or RateLimited (this
    client's wrong guesses for this number)."""
    s = rt.settings
    tries_key = _client_tries_key(rt, phone_hash, client)
    tried = int(await rt.redis.get(tries_key) or 0)
    if tried >= s.otp_max_attempts:
        ttl = await rt.redis.ttl(tries_key)
        raise RateLimited(
            "too many wrong codes from here; wait or ask for a new code later", retry_after=max(1, ttl)
        )
    key = code_key(rt, phone_hash)
    stored = await rt.redis.hget(key, "h")
    if stored is None:
        raise Unauthenticated("code expired or never requested")
    if not hmac.compare_digest(stored, _code_hash(rt, code)):
        async with rt.redis.pipeline(transaction=True) as pipe:
            pipe.incr(tries_key)
            pipe.expire(tries_key, s.otp_ttl_s, nx=True)
            pipe.hincrby(key, "tries", 1)
            mine, _, total = await pipe.execute()
        if int(total) >= s.otp_max_attempts_total:
            await rt.redis.delete(key)  # too many guesses from everywhere: the code is void
        raise Unauthenticated("wrong code", attempts_left=max(0, s.otp_max_attempts - int(mine)))
    if await rt.redis.delete(key) == 0:
        raise Unauthenticated("code expired or never requested")  # consumed by a concurrent login
    await rt.redis.delete(rt.keys("otp_sends", hash_tag(phone_hash)), tries_key)
