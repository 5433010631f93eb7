from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from app.auth.schemas import UserPublic


class MyAdvisorPublic(BaseModel):
    advisor: UserPublic
    conversation_id: str
    assigned_at: datetime


class MessageCounts(BaseModel):
    total: int = 0
    from_client: int = 0
    from_advisor: int = 0
    last_at: datetime | None = None


class ClientSummary(BaseModel):
    user_id: str
    display_name: str
    avatar_url: str | None
    is_cardholder: bool
    region: str | None
    risk_profile: str | None
    assigned_at: datetime
    last_active_at: datetime | None
    conversation_id: str | None
    messages: MessageCounts
    # Leaderboard totals (all time) where the games feed them: energy, steps, eggs.
    game: dict[str, float] | None = None


class ChatLine(BaseModel):
    seq: int
    sender_id: str | None
    kind: str
    body: dict[str, object]
    created_at: datetime


class ClientDetail(ClientSummary):
    recent_messages: list[ChatLine]


class MatchResult(BaseModel):
    assigned: int
    by_advisor: dict[str, int]
    unassigned: int


class AdvisorProfileIn(BaseModel):
    capacity: int = Field(ge=0, le=100_000)
    regions: list[str] = Field(default_factory=list, max_length=20)
    languages: list[str] = Field(default_factory=list, max_length=10)
    risk_profiles: list[str] = Field(default_factory=list, max_length=10)


class AdvisorProfilePublic(AdvisorProfileIn):
    advisor_id: str
