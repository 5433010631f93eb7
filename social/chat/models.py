"""Conversations, their members, and messages with a gap-free per-conversation seq."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.dbtypes import at_field


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"

    id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=8)  # direct | group
    title: str | None = Field(default=None, max_length=100)
    # "lo|hi" user ids for a direct conversation: one per pair, by constraint.
    direct_key: str | None = Field(default=None, unique=True, max_length=81)
    created_by: str | None = Field(default=None, max_length=40)
    last_seq: int = Field(default=0)  # the seq of the newest message; bumped under the row lock
    last_message_at: datetime | None = at_field(nullable=True)
    created_at: datetime = at_field()


class ConversationMember(SQLModel, table=True):
    __tablename__ = "conversation_members"
    __table_args__ = (Index("ix_conversation_members_user_id", "user_id"),)

    conversation_id: str = Field(primary_key=True, foreign_key="conversations.id", max_length=40)
    user_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    role: str = Field(default="member", max_length=16)  # owner | member | advisor
    last_read_seq: int = Field(default=0)
    joined_at: datetime = at_field()


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        # A client's resend with the same cid is the same message.
        UniqueConstraint("conversation_id", "sender_id", "cid"),
    )

    id: str = Field(primary_key=True, max_length=40)
    conversation_id: str = Field(foreign_key="conversations.id", max_length=40)
    seq: int
    sender_id: str | None = Field(default=None, max_length=40)  # None for system messages
    kind: str = Field(max_length=16)  # text | image | transfer | red_packet | system
    body: dict[str, Any] = Field(default_factory=dict, sa_type=JSON())
    cid: str | None = Field(default=None, max_length=64)
    created_at: datetime = at_field()
