"""Access tokens (JWT, HS256), refresh tokens (opaque) and the bank's service token.

An access token is short-lived (``access_token_ttl_s``, 15 min) and names its session
(``sid``): revoking the session (logout, a reused refresh token) makes it answer 401 at
once, checked with the user read of every request (``app.auth.sessions``). A refresh
token is 32 random bytes, stored only as its SHA-256. Token expiry runs on real time,
never on the dev clock: moving the clock logs nobody out.

Tokens without a session (``issue(settings, user_id)``) are what tests and benchmark
scripts mint with the secret key; they are accepted only with ``QUANZI_ENV=dev|test``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import jwt

from app.clock import utcnow
from app.config import Settings
from app.errors import Unauthenticated


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    session_id: str | None


def issue(
    settings: Settings, user_id: str, *, session_id: str | None = None, ttl_s: int | None = None
) -> str:
    """An access token for ``user_id`` (in ``session_id``), valid ``ttl_s`` seconds
    (default ``access_token_ttl_s``)."""
    now = utcnow()  # real time: moving the dev clock logs nobody out
    claims: dict[str, object] = {
        "sub": user_id,
        "typ": "access",
        "iat": now,
        "exp": now + timedelta(seconds=ttl_s or settings.access_token_ttl_s),
    }
    if session_id is not None:
        claims["sid"] = session_id
    return jwt.encode(claims, settings.secret_key, algorithm="HS256")


def decode(settings: Settings, token: str) -> AccessClaims:
    """The claims of a well-signed, unexpired access token. Raises Unauthenticated.

    Says nothing about the session: ``app.auth.sessions.authenticate`` checks that."""
    try:
        claims = jwt.decode(
            token, settings.secret_key, algorithms=["HS256"], options={"require": ["exp", "sub"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("token expired") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated("invalid token") from exc
    sid = claims.get("sid")
    if claims.get("typ") != "access" or not isinstance(claims.get("sub"), str):
        raise Unauthenticated("invalid token")
    if sid is not None and not isinstance(sid, str):
        raise Unauthenticated("invalid token")
    return AccessClaims(user_id=str(claims["sub"]), session_id=sid)


def verify(settings: Settings, token: str) -> str:
    """The user id a well-signed, unexpired access token names. Raises Unauthenticated."""
    return decode(settings, token).user_id


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def refresh_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_service_token(settings: Settings, token: str) -> bool:
    return hmac.compare_digest(token.encode(), settings.service_token.encode())
