"""One-time login codes: issued, hashed at rest in Redis, expiring in real time.

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
from app.runtime import Runtime

log = structlog.get_logger()

OUTBOX: dict[str, str] = {}  # masked phone → last code; demo sender only


def _code_hash(rt: Runtime, code: str) -> str:
    return hmac.new(rt.settings.secret_key.encode(), code.encode(), hashlib.sha256).hexdigest()


async def issue(rt: Runtime, *, phone_hash: str, phone_masked: str, client_ip: str) -> str:
    """Create and send a code. Raises RateLimited (per phone, per client address)."""
    s = rt.settings
    await fixed_window(
        rt.redis, rt.keys("rl", "otp_ip", client_ip), limit=s.otp_per_ip_per_hour, window_s=3600
    )
    await fixed_window(
        rt.redis, rt.keys("rl", "otp_phone", phone_hash), limit=s.otp_per_phone_per_hour, window_s=3600
    )
    code = f"{secrets.randbelow(1_000_000):06d}"
    key = rt.keys("otp", phone_hash)
    async with rt.redis.pipeline(transaction=True) as pipe:
        pipe.delete(key)
        pipe.hset(key, mapping={"h": _code_hash(rt, code), "tries": 0})
        pipe.expire(key, s.otp_ttl_s)
        await pipe.execute()
    OUTBOX[phone_masked] = code
    OTP_SENT.inc()
    log.info("otp_sent", phone=phone_masked, code=code if s.is_dev else "***")
    return code


async def check(rt: Runtime, *, phone_hash: str, code: str) -> None:
    """Consume a valid code. Raises Unauthenticated (wrong, expired) or RateLimited (tries)."""
    key = rt.keys("otp", phone_hash)
    tries = await rt.redis.hincrby(key, "tries", 1)
    stored = await rt.redis.hget(key, "h")
    if stored is None:
        await rt.redis.delete(key)
        raise Unauthenticated("code expired or never requested")
    if tries > rt.settings.otp_max_attempts:
        await rt.redis.delete(key)
        raise RateLimited("too many attempts; request a new code", retry_after=60)
    if not hmac.compare_digest(stored, _code_hash(rt, code)):
        raise Unauthenticated("wrong code", attempts_left=rt.settings.otp_max_attempts - tries)
    await rt.redis.delete(key)
