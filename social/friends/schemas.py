from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.auth.schemas import UserPublic


class FriendPublic(BaseModel):
    user_id: str
    display_name: str
    avatar_url: str | None
    since: datetime


class FriendRequestCreate(BaseModel):
    user_id: str = Field(min_length=1, max_length=40)
    message: str | None = Field(default=None, max_length=200)


class FriendRequestPublic(BaseModel):
    id: str
    direction: Literal["incoming", "outgoing"]
    from_user_id: str
    to_user_id: str
    user: UserPublic  # the other party
    message: str | None
    status: Literal["pending", "accepted", "declined", "cancelled"]
    created_at: datetime
    decided_at: datetime | None


class BlockPublic(BaseModel):
    user_id: str
    created_at: datetime


class Reason(BaseModel):
    kind: Literal["mutual_friends", "in_contacts"]
    count: int | None = None


class SuggestionPublic(BaseModel):
    user_id: str
    display_name: str
    avatar_url: str | None
    reasons: list[Reason]
    score: float
