from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.deps import CurrentUser, DbSession, IdempotencyKey, Rt
from app.pagination import Cursor, Limit, Page
from app.wallet import service as wallet
from app.wallet.schemas import StatementLine, TopupIn, TopupPublic, WalletPublic

router = APIRouter(tags=["wallet"])


@router.get("/v1/wallet", response_model=WalletPublic)
async def get_wallet(user: CurrentUser, db: DbSession) -> WalletPublic:
    return await wallet.get_wallet(db, user_id=user.id)


@router.get("/v1/wallet/statement", response_model=Page[StatementLine])
async def statement(
    user: CurrentUser, db: DbSession, limit: Limit = 20, cursor: Cursor = None
) -> Page[StatementLine]:
    return await wallet.statement(db, user_id=user.id, limit=limit, cursor=cursor)


@router.post("/v1/wallet/topup", response_model=TopupPublic)
async def topup(
    body: TopupIn, user: CurrentUser, db: DbSession, rt: Rt, idem: IdempotencyKey
) -> JSONResponse:
    return await idem.run(
        db,
        rt,
        user_id=user.id,
        body=body,
        action=lambda: wallet.topup(db, rt, user_id=user.id, amount_fen=body.amount_fen),
    )
