"""Chat request/response models (REST) and the client → server WebSocket frames."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

UserId = Annotated[str, StringConstraints(min_length=1, max_length=40)]
Cid = Annotated[str, StringConstraints(min_length=1, max_length=64)]
ConversationId = Annotated[str, StringConstraints(min_length=1, max_length=40)]


# ---- REST -----------------------------------------------------------------------------


class ConversationCreate(BaseModel):
    """One friend and no title: the direct conversation; otherwise a group."""

    model_config = ConfigDict(extra="forbid")

    member_ids: list[UserId] = Field(min_length=1, max_length=500)
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = (
        None
    )


class MessagePublic(BaseModel):
    id: str
    conversation_id: str
    seq: int
    sender_id: str | None
    kind: str
    body: dict[str, Any]
    created_at: datetime


class Peer(BaseModel):
    user_id: str
    display_name: str
    avatar_url: str | None


class ConversationPublic(BaseModel):
    id: str
    kind: Literal["direct", "group"]
    title: str | None
    created_by: str | None
    member_count: int
    peer: Peer | None = Field(default=None, description="the other member of a direct conversation")
    last_seq: int
    last_read_seq: int
    unread_count: int
    last_message: MessagePublic | None
    last_message_at: datetime | None
    created_at: datetime


class ConversationDetail(ConversationPublic):
    member_ids: list[str]


class MessagePage(BaseModel):
    """Messages in ascending seq; ``next_cursor`` continues in the direction asked."""

    items: list[MessagePublic]
    next_cursor: str | None = None


class TextBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["text"]
    text: Annotated[str, StringConstraints(min_length=1)]


class MessageCreate(BaseModel):
    """REST twin of the WebSocket ``send`` frame."""

    model_config = ConfigDict(extra="forbid")

    cid: Cid
    body: TextBody


class Ack(BaseModel):
    op: Literal["ack"] = "ack"
    cid: str
    conversation_id: str
    seq: int
    message_id: str


class ReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seq: int = Field(ge=0)


class ReadPublic(BaseModel):
    conversation_id: str
    last_read_seq: int
    unread_count: int


# ---- WebSocket frames (client → server; handled in ws.py) --------------------------------


class SendFrame(BaseModel):
    op: Literal["send"]
    cid: Cid
    conversation_id: ConversationId
    body: TextBody


class SyncFrame(BaseModel):
    op: Literal["sync"]
    conversation_id: ConversationId
    after_seq: int = Field(default=0, ge=0)


class ReadFrame(BaseModel):
    op: Literal["read"]
    conversation_id: ConversationId
    seq: int = Field(ge=0)
