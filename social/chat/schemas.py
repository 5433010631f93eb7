"""Chat request/response models (REST) and the client → server WebSocket frames."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler, StringConstraints, TypeAdapter
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from app.auth.schemas import PersonCard
from app.types import SeqNumber
from social.chat.bodies import FrameMessage, TypedMessage

if TYPE_CHECKING:
    from social.chat import service
    from social.chat.models import Message
    from social.chat.service import ConversationView, MessageChunk

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
    """A message as served. Its published schema is the union of ``bodies.TypedMessage``:
    ``body``'s shape follows ``kind`` (and a system body's ``event``)."""

    model_config = ConfigDict(from_attributes=True)  # from a ``Message`` row

    id: str
    conversation_id: str
    seq: int
    sender_id: str | None
    sender: PersonCard | None = None
    kind: str
    body: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, m: Message, senders: Mapping[str, PersonCard] | None = None) -> MessagePublic:
        shaped = cls.model_validate(m)
        if senders and m.sender_id is not None:
            shaped.sender = senders.get(m.sender_id)
        return shaped

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(TypeAdapter(TypedMessage).core_schema)


class Peer(PersonCard):
    """The other member's card (``id``), and their id as it was first served (``user_id``)."""

    user_id: str

    @classmethod
    def from_peer(cls, p: service.Peer) -> Peer:
        return cls(
            id=p.user_id,
            user_id=p.user_id,
            display_name=p.display_name,
            avatar_url=p.avatar_url,
            badge=p.badge,
        )  # type: ignore[arg-type]


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

    @classmethod
    def fields_of(cls, view: ConversationView) -> dict[str, Any]:
        c, last = view.conversation, view.last_message
        return {
            "id": c.id,
            "kind": c.kind,
            "title": c.title,
            "created_by": c.created_by,
            "member_count": view.member_count,
            "peer": Peer.from_peer(view.peer) if view.peer is not None else None,
            "last_seq": c.last_seq,
            "last_read_seq": view.last_read_seq,
            "unread_count": view.unread_count,
            "last_message": MessagePublic.of(last, view.cards) if last is not None else None,
            "last_message_at": c.last_message_at,
            "created_at": c.created_at,
        }

    @classmethod
    def of(cls, view: ConversationView) -> ConversationPublic:
        return cls(**cls.fields_of(view))


class ConversationDetail(ConversationPublic):
    member_ids: list[str]
    members: list[PersonCard] = Field(description="the members' cards, in ``member_ids`` order")

    @classmethod
    def of(cls, view: ConversationView) -> ConversationDetail:
        return cls(**cls.fields_of(view), member_ids=view.member_ids or [], members=view.members)


class MessagePage(BaseModel):
    """Messages in ascending seq; ``next_cursor`` continues in the direction asked."""

    items: list[MessagePublic]
    next_cursor: str | None = None

    @classmethod
    def of(cls, chunk: MessageChunk) -> MessagePage:
        return cls(
            items=[MessagePublic.of(m, chunk.senders) for m in chunk.items], next_cursor=chunk.next_cursor
        )


class TextBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["text"]
    text: Annotated[str, StringConstraints(min_length=1)]


class ImageBody(BaseModel):
    """An image I uploaded (``POST /v1/media``); the stored message carries its URLs and sizes."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["image"]
    media_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]


ClientBody = Annotated[TextBody | ImageBody, Field(discriminator="kind")]


class MessageCreate(BaseModel):
    """REST twin of the WebSocket ``send`` frame."""

    model_config = ConfigDict(extra="forbid")

    cid: Cid
    body: ClientBody


class Ack(BaseModel):
    op: Literal["ack"] = "ack"
    cid: str
    conversation_id: str
    seq: int
    message_id: str


class ReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seq: SeqNumber


class ReadPublic(BaseModel):
    conversation_id: str
    last_read_seq: int
    unread_count: int


# ---- WebSocket frames (client → server; handled in ws.py) --------------------------------


class SendFrame(BaseModel):
    op: Literal["send"]
    cid: Cid
    conversation_id: ConversationId
    body: ClientBody


class SyncFrame(BaseModel):
    op: Literal["sync"]
    conversation_id: ConversationId
    after_seq: SeqNumber = 0


class ReadFrame(BaseModel):
    op: Literal["read"]
    conversation_id: ConversationId
    seq: SeqNumber


class TypingFrame(BaseModel):
    """I am typing in a conversation (send again every few seconds while typing)."""

    op: Literal["typing"]
    conversation_id: ConversationId


class PresenceFrame(BaseModel):
    """Which other members of a conversation have a live socket now."""

    op: Literal["presence"]
    conversation_id: ConversationId


# ---- WebSocket frames (server → client) --------------------------------------------------


class AckFrame(Ack):
    """The answer to a ``send``: the message is stored with this seq."""

    op: Literal["ack"]


class MessageFrame(BaseModel):
    """A message in one of my conversations (``message_frame``); per conversation, in seq order."""

    op: Literal["message"]
    conversation_id: str
    seq: int
    message: FrameMessage


class SyncedFrame(BaseModel):
    """After a ``sync``'s ``message`` frames: up to where; ``more`` if sync again."""

    op: Literal["synced"]
    conversation_id: str
    seq: int
    more: bool


class ReadMarkerFrame(BaseModel):
    """My read marker moved (on another device, or by ``read``)."""

    op: Literal["read"]
    conversation_id: str
    seq: int


class TypingNotice(BaseModel):
    """Another member is typing (never stored; not from or to blocked users)."""

    op: Literal["typing"]
    conversation_id: str
    user_id: str


class PresenceState(BaseModel):
    """The answer to ``presence``: the other members with a live socket now."""

    op: Literal["presence"]
    conversation_id: str
    online: list[str]
