"""What a message's ``body`` holds, per ``kind`` — the schemas a client generates from.

A message is ``{id, conversation_id, seq, sender_id, sender, kind, body, created_at}``
(``sender``: the sender's ``PersonCard``); these
models describe it as a union discriminated by ``kind`` (and a ``system`` body by its
``event``). They shape the published OpenAPI document and docs/asyncapi.yaml
(``MessagePublic``'s JSON schema is ``TypedMessage``), and the tests validate served
messages against them. The bodies themselves are written by the features that post them
(chat, transfers, red packets, advisors); a new kind or event gets its model here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.auth.schemas import PersonCard


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")  # adding fields is free (API.md)


class TextContent(_Body):
    text: str


class ImageContent(_Body):
    """One of the sender's uploads (``POST /v1/media``), with its thumbnail."""

    media_id: str
    url: str
    thumb_url: str
    width: int | None = None
    height: int | None = None
    thumb_width: int | None = None
    thumb_height: int | None = None


TransferStatus = Literal["pending", "accepted", "declined", "refunded"]


class TransferContent(_Body):
    """A transfer's bubble: sent (``pending``) and, from the receiver, ``accepted``."""

    transfer_id: str
    amount_fen: int
    from_user_id: str
    to_user_id: str
    note: str | None = None
    status: TransferStatus
    expires_at: datetime


class RedPacketContent(_Body):
    packet_id: str
    total_fen: int
    count: int
    mode: Literal["random", "equal", "exclusive"]
    to_user_id: str | None = None
    greeting: str | None = None
    expires_at: datetime


class ProductContent(_Body):
    """A product of the catalogue an advisor shared, as the reader may see it now (rendered
    from the catalogue when served: ``available: false`` is the placeholder for a product
    above the reader's risk profile, or withdrawn — then only ``product_id`` and the notice)."""

    product_id: str
    available: bool = True
    unavailable_reason: Literal["risk_profile", "withdrawn"] | None = None
    notice: str | None = None
    notice_zh: str | None = None
    kind: Literal["deposit", "fund", "card", "insurance"] | None = None
    title: str | None = None
    issuer: str | None = None
    summary: str | None = None
    risk_level: Literal["R1", "R2", "R3", "R4", "R5"] | None = None
    compliance_text: str | None = None
    link: str | None = None


class GroupCreated(_Body):
    event: Literal["group_created"]
    by: str
    title: str | None = None
    member_ids: list[str]


class RedPacketClaimed(_Body):
    event: Literal["red_packet_claimed"]
    packet_id: str
    user_id: str
    sender_id: str
    amount_fen: int
    remaining_count: int


class RedPacketRefunded(_Body):
    event: Literal["red_packet_refunded"]
    packet_id: str
    sender_id: str
    refunded_fen: int


class TransferReturned(TransferContent):
    """The money of a transfer went back to its sender: declined, or expired and refunded."""

    event: Literal["transfer_declined", "transfer_refunded"]


SystemContent = Annotated[
    GroupCreated | RedPacketClaimed | RedPacketRefunded | TransferReturned, Field(discriminator="event")
]


class _Message(BaseModel):
    """A message as a ``message`` frame carries it (its place is in the frame)."""

    id: str
    sender_id: str | None = Field(description="null for system messages")
    sender: PersonCard | None = Field(
        default=None,
        description="the sender's card (name, avatar, badge) to show with the message; null "
        "for system messages (and if the card could not be read)",
    )
    created_at: datetime


class TextFrameMessage(_Message):
    kind: Literal["text"]
    body: TextContent


class ImageFrameMessage(_Message):
    kind: Literal["image"]
    body: ImageContent


class TransferFrameMessage(_Message):
    kind: Literal["transfer"]
    body: TransferContent


class RedPacketFrameMessage(_Message):
    kind: Literal["red_packet"]
    body: RedPacketContent


class ProductFrameMessage(_Message):
    kind: Literal["product"]
    body: ProductContent


class SystemFrameMessage(_Message):
    kind: Literal["system"]
    body: SystemContent


FrameMessage = Annotated[
    TextFrameMessage
    | ImageFrameMessage
    | TransferFrameMessage
    | RedPacketFrameMessage
    | ProductFrameMessage
    | SystemFrameMessage,
    Field(discriminator="kind"),
]


class _Placed(BaseModel):
    """A message as REST serves it: with its conversation and seq."""

    id: str
    conversation_id: str
    seq: int


class TextMessage(_Placed, TextFrameMessage):
    pass


class ImageMessage(_Placed, ImageFrameMessage):
    pass


class TransferMessage(_Placed, TransferFrameMessage):
    pass


class RedPacketMessage(_Placed, RedPacketFrameMessage):
    pass


class ProductMessage(_Placed, ProductFrameMessage):
    pass


class SystemMessage(_Placed, SystemFrameMessage):
    pass


TypedMessage = Annotated[
    TextMessage | ImageMessage | TransferMessage | RedPacketMessage | ProductMessage | SystemMessage,
    Field(discriminator="kind"),
]
