from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from app.deps import CurrentUser, DbSession, IdempotencyKey, Rt
from app.errors import (
    Conflict,
    Expired,
    Forbidden,
    InsufficientFunds,
    LimitExceeded,
    NotFound,
    ValidationFailed,
    documented,
)
from social.transfers import service as transfers
from social.transfers.schemas import TransferCreate, TransferPublic

router = APIRouter(tags=["transfers"])

TransferId = Annotated[str, Path(min_length=1, max_length=40)]


@router.post(
    "/v1/transfers",
    status_code=201,
    response_model=TransferPublic,
    responses=documented(
        Forbidden("not friends, or a block either way (details.reason money_not_allowed)"),
        NotFound("conversation not found"),
        InsufficientFunds(),
        LimitExceeded("above transfer_max_fen, or the daily outgoing limit shared with red packets"),
        ValidationFailed(),
    ),
)
async def create_transfer(
    body: TransferCreate, user: CurrentUser, db: DbSession, rt: Rt, idem: IdempotencyKey
) -> JSONResponse:
    return await idem.run(
        db,
        rt,
        user_id=user.id,
        body=body,
        status_code=201,
        action=lambda: transfers.create_transfer(
            db,
            rt,
            sender_id=user.id,
            to_user_id=body.to_user_id,
            amount_fen=body.amount_fen,
            note=body.note,
            conversation_id=body.conversation_id,
        ),
        autocommit=True,  # one statement (transfer_create), its own transaction
    )


@router.post(
    "/v1/transfers/{transfer_id}/accept",
    response_model=TransferPublic,
    responses=documented(
        Forbidden("not the receiver, or a block either way since it was sent"),
        NotFound("transfer not found"),
        Conflict("already settled"),
        Expired("past expires_at"),
    ),
)
async def accept_transfer(
    transfer_id: TransferId, user: CurrentUser, db: DbSession, rt: Rt, idem: IdempotencyKey
) -> JSONResponse:
    return await idem.run(
        db,
        rt,
        user_id=user.id,
        body=None,
        action=lambda: transfers.accept_transfer(db, rt, transfer_id=transfer_id, user_id=user.id),
        autocommit=True,  # one statement (transfer_settle), its own transaction
    )


@router.post("/v1/transfers/{transfer_id}/decline", response_model=TransferPublic)
async def decline_transfer(
    transfer_id: TransferId, user: CurrentUser, db: DbSession, rt: Rt, idem: IdempotencyKey
) -> JSONResponse:
    return await idem.run(
        db,
        rt,
        user_id=user.id,
        body=None,
        action=lambda: transfers.decline_transfer(db, rt, transfer_id=transfer_id, user_id=user.id),
        autocommit=True,  # one statement (transfer_settle), its own transaction
    )


@router.get("/v1/transfers/{transfer_id}", response_model=TransferPublic)
async def get_transfer(transfer_id: TransferId, user: CurrentUser, db: DbSession) -> TransferPublic:
    return await transfers.access_transfer(db, transfer_id=transfer_id, user_id=user.id)
