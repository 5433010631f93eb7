from __future__ import annotations

from fastapi import APIRouter, Response

from app.deps import CurrentUser, DbSession, Rt
from social.referrals import service as referrals
from social.referrals.schemas import RedeemIn, RedeemPublic, ReferralMePublic

router = APIRouter(tags=["referrals"])


@router.get("/v1/referrals/me", response_model=ReferralMePublic)
async def my_referrals(user: CurrentUser, db: DbSession, rt: Rt) -> ReferralMePublic:
    return ReferralMePublic.of(await referrals.me(db, rt, user_id=user.id))


@router.get(
    "/v1/referrals/me/poster.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "the share poster"}},
)
async def my_poster(user: CurrentUser, db: DbSession, rt: Rt) -> Response:
    png = await referrals.poster_png(db, rt, user_id=user.id)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@router.post("/v1/referrals/redeem", status_code=201, response_model=RedeemPublic)
async def redeem(body: RedeemIn, user: CurrentUser, db: DbSession, rt: Rt) -> RedeemPublic:
    return RedeemPublic.of(await referrals.redeem(db, rt, user_id=user.id, code=body.code))
