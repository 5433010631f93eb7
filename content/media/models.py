from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.dbtypes import at_field


class Media(SQLModel, table=True):
    """An uploaded image, re-encoded: the original (≤ 2048 px) and a thumbnail (≤ 320 px)."""

    __tablename__ = "media"

    id: str = Field(primary_key=True, max_length=40)
    owner_id: str = Field(foreign_key="users.id", index=True, max_length=40)
    content_type: str = Field(max_length=32)
    width: int
    height: int
    thumb_width: int
    thumb_height: int
    size_bytes: int
    created_at: datetime = at_field()
    # Set while a post showing it is removed by moderation: the image is then not served.
    withdrawn_at: datetime | None = at_field(nullable=True)
    # Set when the owner removes the upload: it is no longer served nor attachable.
    removed_at: datetime | None = at_field(nullable=True)
