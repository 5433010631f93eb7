"""The friend graph: mutual friendships (one row per pair) and blocks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field, SQLModel

from app.dbenums import enum_field, one_of
from app.dbtypes import at_field


class RequestStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"


class Friendship(SQLModel, table=True):
    """Stored once per pair, with ``user_lo < user_hi``. The primary key and the
    (user_hi, user_lo) index make both halves of an adjacency look-up index-only."""

    __tablename__ = "friendships"
    __table_args__ = (
        CheckConstraint("user_lo < user_hi", name="ordered_pair"),
        Index("ix_friendships_user_hi_user_lo", "user_hi", "user_lo"),
    )

    user_lo: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    user_hi: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    created_at: datetime = at_field()


class Block(SQLModel, table=True):
    __tablename__ = "blocks"
    __table_args__ = (Index("ix_blocks_blocked_id", "blocked_id"),)

    blocker_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    blocked_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    created_at: datetime = at_field()


class FriendRequest(SQLModel, table=True):
    """A request from one user to another; ``pending_key`` ("lo|hi") is set only while
    pending, so the unique constraint allows one pending request per pair."""

    __tablename__ = "friend_requests"
    __table_args__ = (
        Index("ix_friend_requests_to_id_status", "to_id", "status"),
        Index("ix_friend_requests_from_id_status", "from_id", "status"),
        one_of("status", RequestStatus),
    )

    id: str = Field(primary_key=True, max_length=40)
    from_id: str = Field(foreign_key="users.id", max_length=40)
    to_id: str = Field(foreign_key="users.id", max_length=40)
    message: str | None = Field(default=None, max_length=200)
    status: RequestStatus = enum_field(RequestStatus, max_length=12, default=RequestStatus.PENDING)
    pending_key: str | None = Field(default=None, unique=True, max_length=81)
    created_at: datetime = at_field()
    decided_at: datetime | None = at_field(nullable=True)
