from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from app.auth.schemas import PersonCard
from app.types import PositiveFen

Id = Annotated[str, Field(min_length=1, max_length=40)]


class RedPacketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: Id
    total_fen: PositiveFen
    count: Annotated[StrictInt, Field(ge=1, le=10_000)]  # the configured limit is checked by the service
    mode: Literal["random", "equal", "exclusive"] = "random"
    to_user_id: Id | None = None
    greeting: Annotated[str, Field(max_length=100)] = "恭喜发财，大吉大利"


class RedPacketCreated(BaseModel):
    id: str
    conversation_id: str
    total_fen: int
    count: int
    mode: str
    status: str
    expires_at: datetime


class GrabPublic(BaseModel):
    packet_id: str
    amount_fen: int
    remaining_count: int


class ClaimPublic(BaseModel):
    user_id: str
    user: PersonCard | None = Field(description="who grabbed it: their card")
    amount_fen: int
    at: datetime
    luckiest: bool


class RedPacketPublic(BaseModel):
    id: str
    conversation_id: str
    sender_id: str
    sender: PersonCard | None = Field(description="who sent it: their card")
    mode: str
    to_user_id: str | None
    greeting: str
    total_fen: int
    count: int
    remaining_count: int
    remaining_fen: int
    refunded_fen: int
    status: str  # open | finished | expired (awaiting its refund) | refunded
    created_at: datetime
    expires_at: datetime
    claims: list[ClaimPublic]
