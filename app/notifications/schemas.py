from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, StrictBool, model_validator


class NotificationPublic(BaseModel):
    id: str
    kind: str
    data: dict[str, Any]
    read: bool
    created_at: datetime


class MarkRead(BaseModel):
    ids: list[str] | None = Field(default=None, max_length=500)
    all: StrictBool = False

    @model_validator(mode="after")
    def _one_of(self) -> MarkRead:
        if not self.all and not self.ids:
            raise ValueError("give ids or all:true")
        return self


class MarkedRead(BaseModel):
    updated: int
