from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from app.deps import CurrentUser, DbSession, IdempotencyKey, ReadSession, Rt, ServiceCaller
from app.devtools.api import dev_only
from app.errors import Conflict, LimitExceeded, NotFound, Unauthenticated, ValidationFailed, documented
from app.pagination import Cursor, Limit, Page
from app.wallet import service as wallet
from app.wallet.schemas import BankTopupIn, BankTopupPublic, StatementLine, TopupIn, TopupPublic, WalletPublic

router = APIRouter(tags=["wallet"])
# Dev and test only (absent in prod, from the OpenAPI schema too), like /v1/dev/*.
dev_router = APIRouter(tags=["wallet"], dependencies=[Depends(dev_only)])


@router.get("/v1/wallet", response_model=WalletPublic)
async def get_wallet(user: CurrentUser, db: DbSession) -> WalletPublic:
    return await wallet.get_wallet(db, user_id=user.id)


@router.get("/v1/wallet/statement", response_model=Page[StatementLine])
async def statement(
    user: CurrentUser, db: ReadSession, limit: Limit = 20, cursor: Cursor = None
) -> Page[StatementLine]:
    return await wallet.statement(db, user_id=user.id, limit=limit, cursor=cursor)


@dev_router.post(
    "/v1/wallet/topup",
    response_model=TopupPublic,
    responses=documented(
        Conflict("no bank card linked", reason="no_card"),
        LimitExceeded("above topup_max_fen, or the day's dev_topup_daily_max_fen reached"),
        ValidationFailed(),
    ),
)
async def topup(
    body: TopupIn, user: CurrentUser, db: DbSession, rt: Rt, idem: IdempotencyKey
) -> JSONResponse:
    """Dev and test only (absent in prod): money from the bank's settlement account into a
    cardholder's wallet, capped per user per business day (``dev_topup_daily_max_fen``)."""
    return await idem.run(
        db,
        rt,
        user_id=user.id,
        body=body,
        action=lambda: wallet.topup(db, rt, user_id=user.id, amount_fen=body.amount_fen),
        autocommit=True,  # one statement (wallet_dev_topup), its own transaction
    )


@router.post(
    "/v1/bank/topups",
    status_code=201,
    response_model=BankTopupPublic,
    responses={
        200: {"model": BankTopupPublic, "description": "this bank_ref was already paid: the first top-up"},
        **documented(
            Unauthenticated("the service token is required"),
            NotFound("no such user"),
            Conflict("not a cardholder (reason no_card), or bank_ref used for another top-up"),
            LimitExceeded("above topup_max_fen"),
            ValidationFailed(),
        ),
    },
)
async def bank_topup(
    body: BankTopupIn, caller: ServiceCaller, db: DbSession, rt: Rt, response: Response
) -> BankTopupPublic:
    """The bank (service token) pays a cardholder's wallet from its settlement account;
    idempotent by ``bank_ref`` (201 the first time, 200 with the same top-up after)."""
    done, created = await wallet.bank_topup(
        db, rt, bank_ref=body.bank_ref, user_id=body.user_id, amount_fen=body.amount_fen
    )
    if not created:
        response.status_code = 200
    return done
