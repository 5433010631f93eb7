from __future__ import annotations

from fastapi import APIRouter, Request

from app.auth import service as auth
from app.auth.schemas import (
    CardLink,
    CardPublic,
    MePublic,
    MeUpdate,
    OtpRequest,
    OtpSent,
    TokenPublic,
    TokenRequest,
)
from app.deps import CurrentUser, DbSession, Rt

router = APIRouter(tags=["auth"])


@router.post("/v1/auth/otp", status_code=202, response_model=OtpSent)
async def request_otp(body: OtpRequest, request: Request, rt: Rt) -> OtpSent:
    client_ip = request.client.host if request.client else "unknown"
    code = await auth.request_code(rt, phone=body.phone, client_ip=client_ip)
    return OtpSent(dev_code=code)


@router.post("/v1/auth/token", response_model=TokenPublic)
async def token(body: TokenRequest, db: DbSession, rt: Rt) -> TokenPublic:
    access_token, user = await auth.login(db, rt, phone=body.phone, code=body.code)
    return TokenPublic(access_token=access_token, user=MePublic.of(user))


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
