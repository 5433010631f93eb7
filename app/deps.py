"""FastAPI dependencies: the runtime, a session, the caller, and the Idempotency-Key.

Routers declare what they need with these ``Annotated`` aliases:
``user: CurrentUser, db: DbSession, rt: Rt``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.admission import admitted
from app.auth import service as auth
from app.auth import sessions, tokens
from app.auth.models import User
from app.auth.sessions import Bearer
from app.db import reads_alone
from app.errors import Forbidden, Unauthenticated, ValidationFailed
from app.idempotency import service as idempotency
from app.replicas import acting_user
from app.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.rt  # type: ignore[no-any-return]


Rt = Annotated[Runtime, Depends(get_runtime)]


async def get_db(rt: Rt) -> AsyncIterator[AsyncSession]:
    async with admitted(rt), rt.sessionmaker() as session:  # in arrival order under load
        yield session


DbSession = Annotated[AsyncSession, Depends(get_db)]


# The two credentials, declared through FastAPI's security classes so the OpenAPI document
# has ``securitySchemes`` and a per-operation ``security`` (the lock and the Authorize
# button in /docs). ``auto_error=False``: a missing or malformed header reaches our own
# checks below, which answer 401 ``unauthenticated`` in the error envelope as before.
user_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="BearerAuth",
    description="A user's access token from POST /v1/auth/token (or /v1/auth/refresh).",
)
service_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ServiceToken",
    description="The bank's service token (setting service_token), for bank-to-service calls.",
)
UserCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(user_bearer)]
ServiceCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(service_bearer)]


def _token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials is None or not credentials.credentials.strip():
        return None
    return credentials.credentials.strip()


async def get_caller(credentials: UserCredentials, rt: Rt, db: DbSession) -> Bearer:
    """The caller behind the bearer token: user and session. Raises Unauthenticated."""
    token = _token(credentials)
    if token is None:
        raise Unauthenticated("missing bearer token")
    caller = await sessions.authenticate(db, rt, token)
    acting_user.set(caller.user.id)  # this request's writes are the user's own (app/replicas.py)
    if auth.activity_due(rt, caller.user.id, caller.user.last_active_at):
        await auth.note_activity(db, rt, user_id=caller.user.id)
    return caller


Authenticated = Annotated[Bearer, Depends(get_caller)]


async def get_current_user(caller: Authenticated) -> User:
    return caller.user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_read_db(user: CurrentUser, rt: Rt) -> AsyncIterator[AsyncSession]:
    """A session for a read that may be slightly stale, by the current user: a replica
    that is fresh enough and has replayed the user's own writes, else the primary. Its
    statements run each on its own (``reads_alone``: no BEGIN and COMMIT round trips):
    such a read needs no snapshot across its statements."""
    async with rt.read_session(user.id) as session:
        yield await reads_alone(session)


# Feeds, message history, statements, leaderboards: reads only (a replica refuses writes).
ReadSession = Annotated[AsyncSession, Depends(get_read_db)]


def require_role(*roles: str) -> Callable[[User], Awaitable[User]]:
    """A dependency that lets through users holding any of ``roles``. Raises Forbidden."""

    async def _check(user: CurrentUser) -> User:
        if not any(user.has_role(r) for r in roles):
            raise Forbidden(f"requires role {' or '.join(roles)}")
        return user

    return _check


async def get_service_caller(credentials: ServiceCredentials, rt: Rt) -> str:
    token = _token(credentials)
    if token is None or not tokens.is_service_token(rt.settings, token):
        raise Unauthenticated("a valid service token is required")
    return "bank"


ServiceCaller = Annotated[str, Depends(get_service_caller)]


class Idempotent:
    """The Idempotency-Key of a money-moving POST, ready to ``run`` an action once."""

    def __init__(self, request: Request, key: str) -> None:
        self.request = request
        self.key = key

    async def run(
        self,
        db: AsyncSession,
        rt: Runtime,
        *,
        user_id: str,
        body: BaseModel | None,
        action: Callable[[], Awaitable[BaseModel]],
        status_code: int = 200,
        autocommit: bool = False,
    ) -> JSONResponse:
        payload = body.model_dump(mode="json") if body is not None else None
        fp = idempotency.fingerprint(self.request.method, self.request.url.path, payload)
        outcome = await idempotency.run(
            db,
            rt,
            user_id=user_id,
            key=self.key,
            fp=fp,
            action=action,
            status_code=status_code,
            autocommit=autocommit,
        )
        headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
        return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


async def get_idempotent(
    request: Request, idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None
) -> Idempotent:
    if idempotency_key is None:
        raise ValidationFailed("the Idempotency-Key header is required", field="Idempotency-Key")
    if not 1 <= len(idempotency_key) <= 128 or not idempotency_key.isprintable():
        raise ValidationFailed("Idempotency-Key must be 1–128 printable characters", field="Idempotency-Key")
    return Idempotent(request, idempotency_key)


IdempotencyKey = Annotated[Idempotent, Depends(get_idempotent)]
