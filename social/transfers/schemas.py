from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.types import PositiveFen

Id = Annotated[str, Field(min_length=1, max_length=40)]


class TransferCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_user_id: Id
    amount_fen: PositiveFen
    note: Annotated[str, Field(max_length=100)] = ""
    conversation_id: Id | None = None


class TransferPublic(BaseModel):
    id: str
    status: str  # pending | accepted | declined | refunded
    expires_at: datetime
    from_user_id: str
    to_user_id: str
    amount_fen: int
    note: str
    conversation_id: str
    created_at: datetime
    resolved_at: datetime | None = None
