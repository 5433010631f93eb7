from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.auth import service as auth
from app.auth import sessions
from app.auth.models import User
from app.auth.schemas import (
    CardLink,
    CardPublic,
    MePublic,
    MeUpdate,
    OtpRequest,
    OtpSent,
    RefreshRequest,
    TokenPublic,
    TokenRequest,
)
from app.deps import Authenticated, CurrentUser, DbSession, Rt
from app.docs import errors

router = APIRouter(tags=["auth"])


def _token_public(pair: sessions.TokenPair, user: User) -> TokenPublic:
    return TokenPublic(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        user=MePublic.of(user),
    )


@router.post("/v1/auth/otp", status_code=202, response_model=OtpSent, responses=errors(429))
async def request_otp(body: OtpRequest, request: Request, rt: Rt) -> OtpSent:
    client_ip = request.client.host if request.client else "unknown"
    code = await auth.request_code(rt, phone=body.phone, client_ip=client_ip)
    return OtpSent(dev_code=code)


@router.post("/v1/auth/token", response_model=TokenPublic, responses=errors(401, 429))
async def token(body: TokenRequest, db: DbSession, rt: Rt) -> TokenPublic:
    """Log in with a one-time code: a new session's access token (short-lived) and refresh token."""
    pair, user = await auth.login(db, rt, phone=body.phone, code=body.code)
    return _token_public(pair, user)


@router.post("/v1/auth/refresh", response_model=TokenPublic, responses=errors(401))
async def refresh(body: RefreshRequest, db: DbSession, rt: Rt) -> TokenPublic:
    """Trade a refresh token for a new pair. Each refresh token works once; presenting a
    spent one revokes its whole session (401)."""
    pair, user = await sessions.refresh(db, rt, refresh_token=body.refresh_token)
    return _token_public(pair, user)


@router.post("/v1/auth/logout", status_code=204, response_class=Response)
async def logout(caller: Authenticated, db: DbSession, rt: Rt) -> Response:
    """End this session: its access and refresh tokens answer 401 at once and its
    WebSocket connections close (4401) on every worker."""
    if caller.session_id is not None:
        await sessions.end(db, rt, session_id=caller.session_id)
    return Response(status_code=204)


@router.get("/v1/me", response_model=MePublic)
async def me(user: CurrentUser) -> MePublic:
    return MePublic.of(user)


@router.patch("/v1/me", response_model=MePublic)
async def update_me(body: MeUpdate, user: CurrentUser, db: DbSession) -> MePublic:
    updated = await auth.update_me(
        db, user_id=user.id, display_name=body.display_name, discoverable=body.discoverable
    )
    return MePublic.of(updated)


@router.post("/v1/me/cards", status_code=201, response_model=CardPublic)
async def link_card(body: CardLink, user: CurrentUser, db: DbSession, rt: Rt) -> CardPublic:
    card, updated = await auth.link_card(
        db, rt, user_id=user.id, card_token=body.card_token, last4=body.last4
    )
    return CardPublic(
        id=card.id, last4=card.last4, created_at=card.created_at, is_cardholder=updated.is_cardholder
    )
