"""Login sessions: start, authenticate, refresh (rotating, reuse detection), end.

A session is one device's login. It hands out a pair: a short-lived access token that
names the session, and a refresh token that works once. ``refresh`` spends the refresh
token and returns a new pair in the same session (the "family"); presenting a spent
refresh token again means it was stolen or replayed, so the whole session is revoked
(OAuth 2.0 Security BCP, refresh token rotation) and the call answers 401. ``end``
(logout) revokes the session at once.

Revocation reaches live WebSocket connections on every worker through the hub: after the
commit a ``session_ended`` control message goes to the user's channel, and the gateway
closes that session's sockets with 4401 (``app/realtime/gateway.py``).

Token expiry is real time (``app.clock.utcnow``), not the dev clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, bindparam, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from app.auth import tokens
from app.auth.models import AuthSession, RefreshToken, SessionEnd, User
from app.clock import utcnow
from app.db import after_commit, end_read, execute, reads_alone, transaction
from app.errors import Unauthenticated
from app.ids import new_id
from app.realtime.hub import user_channel
from app.runtime import Runtime
from app.uow import UnitOfWork

# The control message that closes a session's sockets (never sent to a client).
SESSION_ENDED = "session_ended"


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds the access token is valid


@dataclass(frozen=True, slots=True)
class Bearer:
    """Who holds an access token: the user and the token's session (None: a sessionless
    dev/test token)."""

    user: User
    session_id: str | None


async def start(db: AsyncSession, rt: Runtime, *, user_id: str, access_ttl_s: int | None = None) -> TokenPair:
    """Open a session for ``user_id`` and return its first pair (own transaction)."""
    now = utcnow()
    session = AuthSession(id=new_id("s_"), user_id=user_id, created_at=now)
    async with transaction(db):
        db.add(session)
        await db.flush()
        refresh = await _new_refresh(db, rt, session.id)
    return _pair(rt, user_id, session.id, refresh, access_ttl_s)


async def refresh(db: AsyncSession, rt: Runtime, *, refresh_token: str) -> tuple[TokenPair, User]:
    """Spend a refresh token for a new pair in the same session. A spent token revokes
    the session. Locks the token's row. Raises Unauthenticated."""
    now = utcnow()
    digest = tokens.refresh_hash(refresh_token)
    reused = False
    async with transaction(db):
        row = (
            await db.execute(
                select(RefreshToken, AuthSession)
                .join(AuthSession, AuthSession.id == RefreshToken.session_id)
                .where(RefreshToken.token_hash == digest)
                .with_for_update(of=RefreshToken)
            )
        ).first()
        if row is None:
            raise Unauthenticated("invalid refresh token")
        token, session = row
        if session.ended_at is not None:
            raise Unauthenticated("session ended")
        if token.used_at is not None:
            await _end(db, rt, session, SessionEnd.REFRESH_REUSE, now)
            reused = True
        elif token.expires_at <= now:
            raise Unauthenticated("refresh token expired")
        else:
            token.used_at = now
            user = await db.get(User, session.user_id)
            fresh = await _new_refresh(db, rt, session.id)
    if reused:
        raise Unauthenticated("refresh token already used: the session is revoked")
    if user is None:
        raise Unauthenticated("unknown user")
    return _pair(rt, session.user_id, session.id, fresh, None), user


async def end(db: AsyncSession, rt: Runtime, *, session_id: str) -> None:
    """Log out: revoke the session (its access and refresh tokens answer 401 from now on)
    and close its sockets on every worker."""
    async with transaction(db):
        session = await db.get(AuthSession, session_id, with_for_update=True)
        if session is not None and session.ended_at is None:
            await _end(db, rt, session, SessionEnd.LOGOUT, utcnow())


async def end_all(db: AsyncSession, rt: Runtime, *, user_id: str, reason: SessionEnd) -> None:
    """End every open session of a user and close their sockets (inside the caller's
    transaction; locks the sessions)."""
    open_sessions = (
        await db.execute(
            select(AuthSession)
            .where(AuthSession.user_id == user_id, AuthSession.ended_at.is_(None))  # type: ignore[union-attr]
            .with_for_update()
        )
    ).scalars()
    now = utcnow()
    for session in open_sessions:
        await _end(db, rt, session, reason, now)
    await db.execute(
        delete(RefreshToken).where(
            RefreshToken.session_id.in_(select(AuthSession.id).where(AuthSession.user_id == user_id))  # type: ignore[attr-defined]
        )
    )


async def _end(db: AsyncSession, rt: Runtime, session: AuthSession, reason: SessionEnd, now: object) -> None:
    session.ended_at = now  # type: ignore[assignment]
    session.ended_reason = reason
    await db.flush()
    message = {"_control": SESSION_ENDED, "session_id": session.id}
    channel = user_channel(session.user_id)

    async def close_sockets() -> None:
        await rt.hub.publish(channel, message)

    after_commit(db, close_sockets)


async def _new_refresh(db: AsyncSession, rt: Runtime, session_id: str) -> str:
    now = utcnow()
    value = tokens.new_refresh_token()
    db.add(
        RefreshToken(
            token_hash=tokens.refresh_hash(value),
            session_id=session_id,
            created_at=now,
            expires_at=now + timedelta(seconds=rt.settings.refresh_token_ttl_s),
        )
    )
    await db.flush()
    return value


def _pair(rt: Runtime, user_id: str, session_id: str, refresh_token: str, ttl_s: int | None) -> TokenPair:
    ttl = ttl_s or rt.settings.access_token_ttl_s
    return TokenPair(
        access_token=tokens.issue(rt.settings, user_id, session_id=session_id, ttl_s=ttl),
        refresh_token=refresh_token,
        expires_in=ttl,
    )


# -- authenticating a request -------------------------------------------------------------

_users = User.__table__  # type: ignore[attr-defined]
_sessions = AuthSession.__table__  # type: ignore[attr-defined]
_USER_COLUMNS = tuple(_users.c)
# The user and their session's state in one statement (every request pays for it).
_CALLER = (
    select(*_USER_COLUMNS, _sessions.c.id.label("_sid"), _sessions.c.ended_at.label("_ended_at"))
    .select_from(
        _users.outerjoin(
            _sessions, and_(_sessions.c.id == bindparam("p_sid"), _sessions.c.user_id == _users.c.id)
        )
    )
    .where(_users.c.id == bindparam("p_id"))
)


async def authenticate(db: AsyncSession, rt: Runtime, token: str) -> Bearer:
    """The user and session behind an access token: well signed, unexpired, its session
    open, its user present. Runs outside a transaction (one round trip). Raises
    Unauthenticated."""
    claims = tokens.decode(rt.settings, token)
    if claims.session_id is None and not rt.settings.is_dev:
        raise Unauthenticated("invalid token")
    await reads_alone(db)
    row = (await execute(db, _CALLER, {"p_id": claims.user_id, "p_sid": claims.session_id})).first()
    await end_read(db)  # gives the connection back; use cases open their own transaction
    if row is None or row._mapping[_users.c.erased_at] is not None:
        raise Unauthenticated("unknown user")
    if claims.session_id is not None and (row._sid is None or row._ended_at is not None):
        raise Unauthenticated("session ended")
    user = User(**{c.name: row._mapping[c] for c in _USER_COLUMNS})
    make_transient_to_detached(user)  # as if loaded and expunged: a plain value from here on
    return Bearer(user=user, session_id=claims.session_id)


# -- housekeeping -------------------------------------------------------------------------


async def sweep(rt: Runtime) -> int:
    """Delete refresh tokens expired a day ago and the sessions left with none (a job)."""
    cutoff = utcnow() - timedelta(days=1)
    async with UnitOfWork.open(rt.sessionmaker) as uow:
        db = uow.db
        gone = await db.execute(delete(RefreshToken).where(RefreshToken.expires_at < cutoff))
        await db.execute(
            delete(AuthSession).where(
                AuthSession.created_at < cutoff,
                ~exists().where(RefreshToken.session_id == AuthSession.id),
            )
        )
    return int(gone.rowcount or 0)  # type: ignore[attr-defined]
