"""Staff sessions: an opaque cookie token, its record kept in Redis under the token's hash.

A session is expendable (losing Redis signs staff out; nothing else is lost), so it lives
in Redis like the one-time codes. It ends on sign-out, after ``session_idle_s`` without
a request, or ``session_max_s`` after sign-in, whichever comes first. Expiry runs on real
time (``utcnow``), like tokens and one-time codes: moving the dev clock signs nobody out.

Each session carries its CSRF token (a synchronizer token): every form and every
script request of the session must send it back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass

from app import clock
from app.console.config import console_settings
from app.runtime import Runtime

COOKIE = "qz_console"


@dataclass
class StaffSession:
    id: str  # the token's hash: names the session in logs and audit without revealing it
    user_id: str
    csrf: str
    created_at: float  # epoch seconds, real time
    seen_at: float
    ip: str
    user_agent: str

    def csrf_ok(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), self.csrf.encode())


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _key(rt: Runtime, session_id: str) -> str:
    return rt.keys("console", "session", session_id)


def _now() -> float:
    return clock.utcnow().timestamp()


async def create(rt: Runtime, *, user_id: str, ip: str, user_agent: str) -> tuple[str, StaffSession]:
    """A new session for a signed-in staff member: (the cookie token, the session)."""
    token = secrets.token_urlsafe(32)
    now = _now()
    session = StaffSession(
        id=_hash(token),
        user_id=user_id,
        csrf=secrets.token_urlsafe(32),
        created_at=now,
        seen_at=now,
        ip=ip[:64],
        user_agent=user_agent[:256],
    )
    idle = console_settings(rt).session_idle_s
    await rt.redis.set(_key(rt, session.id), json.dumps(asdict(session)), ex=idle)
    return token, session


async def load(rt: Runtime, token: str | None) -> StaffSession | None:
    """The live session behind a cookie token (its idle time restarts), or None."""
    if not token or len(token) > 128:
        return None
    key = _key(rt, _hash(token))
    raw = await rt.redis.get(key)
    if raw is None:
        return None
    session = StaffSession(**json.loads(raw))
    cs = console_settings(rt)
    now = _now()
    if now - session.seen_at > cs.session_idle_s or now - session.created_at > cs.session_max_s:
        await rt.redis.delete(key)
        return None
    session.seen_at = now
    await rt.redis.set(key, json.dumps(asdict(session)), ex=cs.session_idle_s)
    return session


async def destroy(rt: Runtime, token: str | None) -> StaffSession | None:
    """End a session (sign-out); returns what it was, if it was live."""
    if not token or len(token) > 128:
        return None
    key = _key(rt, _hash(token))
    raw = await rt.redis.getdel(key)
    return StaffSession(**json.loads(raw)) if raw is not None else None
