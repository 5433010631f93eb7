"""Access tokens (JWT, HS256) and the bank's service token."""

from __future__ import annotations

import hmac
from datetime import timedelta

import jwt

from app.clock import utcnow
from app.config import Settings
from app.errors import Unauthenticated


def issue(settings: Settings, user_id: str) -> str:
    now = utcnow()  # real time: moving the dev clock logs nobody out
    claims = {
        "sub": user_id,
        "typ": "access",
        "iat": now,
        "exp": now + timedelta(seconds=settings.access_token_ttl_s),
    }
    return jwt.encode(claims, settings.secret_key, algorithm="HS256")


def verify(settings: Settings, token: str) -> str:
    """The user id a valid access token names. Raises Unauthenticated."""
    try:
        claims = jwt.decode(
            token, settings.secret_key, algorithms=["HS256"], options={"require": ["exp", "sub"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("token expired") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated("invalid token") from exc
    if claims.get("typ") != "access" or not isinstance(claims.get("sub"), str):
        raise Unauthenticated("invalid token")
    return str(claims["sub"])


def is_service_token(settings: Settings, token: str) -> bool:
    return hmac.compare_digest(token.encode(), settings.service_token.encode())
