"""Chat over REST: my conversations, starting one, and message history.

The live channel (send/ack, message, sync, read) is the WebSocket gateway
(``app/realtime``); the POSTs here are its REST twins for clients without a socket.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from app.deps import CurrentUser, DbSession, ReadSession, Rt
from app.errors import Forbidden, documented
from app.pagination import Cursor, Limit, Page
from app.types import INT32_MAX
from social.chat import service as chat
from social.chat.schemas import (
    Ack,
    ConversationCreate,
    ConversationDetail,
    ConversationPublic,
    MessageCreate,
    MessagePage,
    ReadIn,
    ReadPublic,
)

router = APIRouter(tags=["chat"])

ConversationPath = Annotated[str, Path(max_length=40)]
Seq = Annotated[int | None, Query(ge=0, le=INT32_MAX)]


@router.get("/v1/conversations", response_model=Page[ConversationPublic])
async def list_conversations(
    user: CurrentUser, db: DbSession, limit: Limit = 20, cursor: Cursor = None
) -> Page[ConversationPublic]:
    found = await chat.list_conversations(db, user_id=user.id, limit=limit, cursor=cursor)
    return found.page(ConversationPublic.of)


@router.post(
    "/v1/conversations",
    response_model=ConversationDetail,
    status_code=201,
    responses={
        200: {"model": ConversationDetail, "description": "the direct conversation existed"},
        **documented(Forbidden("a member who is not my friend, or a block either way")),
    },
)
async def create_conversation(
    body: ConversationCreate, user: CurrentUser, db: DbSession, rt: Rt
) -> JSONResponse:
    conv, created = await chat.create_conversation(
        db, rt, creator_id=user.id, member_ids=body.member_ids, title=body.title
    )
    shaped = ConversationDetail.of(conv)
    return JSONResponse(shaped.model_dump(mode="json"), status_code=201 if created else 200)


@router.get("/v1/conversations/{conversation_id}", response_model=ConversationDetail)
async def get_conversation(
    conversation_id: ConversationPath, user: CurrentUser, db: DbSession
) -> ConversationDetail:
    return ConversationDetail.of(
        await chat.get_conversation(db, user_id=user.id, conversation_id=conversation_id)
    )


@router.get("/v1/conversations/{conversation_id}/messages", response_model=MessagePage)
async def list_messages(
    conversation_id: ConversationPath,
    user: CurrentUser,
    db: ReadSession,
    after_seq: Seq = None,
    before_seq: Seq = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Cursor = None,
) -> MessagePage:
    found = await chat.list_messages(
        db,
        user_id=user.id,
        conversation_id=conversation_id,
        after_seq=after_seq,
        before_seq=before_seq,
        limit=limit,
        cursor=cursor,
    )
    return MessagePage.of(found)


@router.post("/v1/conversations/{conversation_id}/messages", response_model=Ack)
async def send_message(
    conversation_id: ConversationPath, body: MessageCreate, user: CurrentUser, db: DbSession, rt: Rt
) -> Ack:
    msg, _ = await chat.send_message(
        db,
        rt,
        user_id=user.id,
        conversation_id=conversation_id,
        cid=body.cid,
        kind=body.body.kind,
        body=body.body.model_dump(),
    )
    return Ack(cid=body.cid, conversation_id=msg.conversation_id, seq=msg.seq, message_id=msg.id)


@router.post("/v1/conversations/{conversation_id}/read", response_model=ReadPublic)
async def mark_read(
    conversation_id: ConversationPath, body: ReadIn, user: CurrentUser, db: DbSession, rt: Rt
) -> ReadPublic:
    last_read, unread = await chat.mark_read(
        db, rt, user_id=user.id, conversation_id=conversation_id, seq=body.seq
    )
    return ReadPublic(conversation_id=conversation_id, last_read_seq=last_read, unread_count=unread)
