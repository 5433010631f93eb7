from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from app.dbtypes import at_field


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_id_id", "user_id", "id"),)

    id: str = Field(primary_key=True, max_length=40)  # time-sortable: the cursor
    user_id: str = Field(max_length=40)
    kind: str = Field(max_length=32)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON())
    read_at: datetime | None = at_field(nullable=True)
    created_at: datetime = at_field()
