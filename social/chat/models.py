"""Conversations, their members, and messages with a gap-free per-conversation seq."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.dbenums import enum_field, one_of
from app.dbtypes import UTCDateTime, at_field


class ConversationKind(StrEnum):
    DIRECT = "direct"
    GROUP = "group"


class MemberRole(StrEnum):
    OWNER = "owner"
    MEMBER = "member"
    ADVISOR = "advisor"


class MessageKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    TRANSFER = "transfer"
    RED_PACKET = "red_packet"
    SYSTEM = "system"
    PRODUCT = "product"  # a bank product an advisor shared


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"
    __table_args__ = (one_of("kind", ConversationKind),)

    id: str = Field(primary_key=True, max_length=40)
    kind: ConversationKind = enum_field(ConversationKind, max_length=8)
    title: str | None = Field(default=None, max_length=100)
    # "lo|hi" user ids for a direct conversation: one per pair, by constraint.
    direct_key: str | None = Field(default=None, unique=True, max_length=81)
    created_by: str | None = Field(default=None, max_length=40)
    last_seq: int = Field(default=0)  # the seq of the newest message; bumped under the row lock
    last_message_at: datetime | None = at_field(nullable=True)
    created_at: datetime = at_field()


class ConversationMember(SQLModel, table=True):
    __tablename__ = "conversation_members"
    __table_args__ = (Index("ix_conversation_members_user_id", "user_id"), one_of("role", MemberRole))

    conversation_id: str = Field(primary_key=True, foreign_key="conversations.id", max_length=40)
    user_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    role: MemberRole = enum_field(MemberRole, max_length=16, default=MemberRole.MEMBER)
    last_read_seq: int = Field(default=0)
    joined_at: datetime = at_field()


class Message(SQLModel, table=True):
    """A message. The table is partitioned by month of ``created_at`` (migration 1900,
    ``social/chat/partitions.py``): PostgreSQL wants the partition key in the primary key
    and in every unique constraint, so ``created_at`` is in them; one seq per conversation
    and one message per resent cid are kept by the send path (the conversation locked,
    an earlier cid looked up across months)."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", "created_at", name="uq_messages_conversation_id_seq"),
        # A client's resend with the same cid is the same message.
        UniqueConstraint(
            "conversation_id",
            "sender_id",
            "cid",
            "created_at",
            name="uq_messages_conversation_id_sender_id_cid",
        ),
        one_of("kind", MessageKind),
        {"postgresql_partition_by": "RANGE (created_at)"},
    )

    id: str = Field(primary_key=True, max_length=40)
    conversation_id: str = Field(foreign_key="conversations.id", max_length=40)
    seq: int
    sender_id: str | None = Field(default=None, max_length=40)  # None for system messages
    kind: MessageKind = enum_field(MessageKind, max_length=16)
    body: dict[str, Any] = Field(default_factory=dict, sa_type=JSON())
    cid: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime(), primary_key=True)  # the partition key
