from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from app.deps import CurrentUser, DbSession, IdempotencyKey, Rt
from app.errors import (
    AlreadyClaimed,
    Expired,
    Forbidden,
    InsufficientFunds,
    LimitExceeded,
    NotFound,
    SoldOut,
    ValidationFailed,
    documented,
)
from social.red_packets import service as red_packets
from social.red_packets.schemas import GrabPublic, RedPacketCreate, RedPacketCreated, RedPacketPublic

router = APIRouter(tags=["red packets"])

PacketId = Annotated[str, Path(min_length=1, max_length=40)]


@router.post(
    "/v1/red-packets",
    status_code=201,
    response_model=RedPacketCreated,
    responses=documented(
        Forbidden("direct chat: not friends or a block either way; exclusive: a block either way"),
        NotFound("not a member of the conversation"),
        InsufficientFunds(),
        LimitExceeded("above red_packet_max_fen, or the daily outgoing limit shared with transfers"),
        ValidationFailed(),
    ),
)
async def create_packet(
    body: RedPacketCreate, user: CurrentUser, db: DbSession, rt: Rt, idem: IdempotencyKey
) -> JSONResponse:
    return await idem.run(
        db,
        rt,
        user_id=user.id,
        body=body,
        status_code=201,
        action=lambda: red_packets.create_packet(
            db,
            rt,
            sender_id=user.id,
            conversation_id=body.conversation_id,
            total_fen=body.total_fen,
            count=body.count,
            mode=body.mode,
            to_user_id=body.to_user_id,
            greeting=body.greeting,
        ),
        autocommit=True,  # one statement (red_packet_create), its own transaction
    )


@router.post(
    "/v1/red-packets/{packet_id}/grab",
    response_model=GrabPublic,
    responses=documented(
        Forbidden("for someone else, the sender in a direct chat, or a block either way with the sender"),
        NotFound("no packet, or not a member"),
        AlreadyClaimed(),
        SoldOut(),
        Expired(),
    ),
)
async def grab(
    packet_id: PacketId, user: CurrentUser, db: DbSession, rt: Rt, idem: IdempotencyKey
) -> JSONResponse:
    return await idem.run(
        db,
        rt,
        user_id=user.id,
        body=None,
        action=lambda: red_packets.grab(db, rt, packet_id=packet_id, user_id=user.id),
        autocommit=True,  # one statement (red_packet_grab), its own transaction
    )


@router.get("/v1/red-packets/{packet_id}", response_model=RedPacketPublic)
async def get_packet(packet_id: PacketId, user: CurrentUser, db: DbSession, rt: Rt) -> RedPacketPublic:
    return await red_packets.access_packet(db, rt, packet_id=packet_id, user_id=user.id)
