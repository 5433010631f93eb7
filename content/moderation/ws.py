"""The moderation queue's push to moderators' sockets (``service`` publishes it)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.auth.schemas import PersonCard


class OpenedItem(BaseModel):
    id: str
    target_kind: str
    target_id: str
    author_id: str | None
    author: PersonCard | None = Field(default=None, description="the author's card")
    reason: str
    categories: list[str]
    created_at: datetime


class ModerationFrame(BaseModel):
    """To moderators and admins: a new item is waiting in the queue."""

    op: Literal["moderation"]
    event: Literal["item_opened"]
    item: OpenedItem


SERVER_FRAMES = [ModerationFrame]
