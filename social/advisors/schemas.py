from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from app.auth.schemas import BADGE_DESCRIPTION, Badge, PersonCard

if TYPE_CHECKING:
    from social.advisors.service import Client, MyAdvisor


class MyAdvisorPublic(BaseModel):
    advisor: PersonCard
    conversation_id: str
    assigned_at: datetime

    @classmethod
    def of(cls, mine: MyAdvisor) -> MyAdvisorPublic:
        a = mine.advisor
        return cls(
            advisor=PersonCard.of(a),
            conversation_id=mine.conversation_id,
            assigned_at=mine.assigned_at,
        )


class MessageCounts(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from ``service.MessageCounts``

    total: int = 0
    from_client: int = 0
    from_advisor: int = 0
    last_at: datetime | None = None


class ClientSummary(BaseModel):
    user_id: str
    display_name: str
    avatar_url: str | None
    badge: Badge | None = Field(description=BADGE_DESCRIPTION)
    is_cardholder: bool
    region: str | None
    risk_profile: str | None
    assigned_at: datetime
    last_active_at: datetime | None
    conversation_id: str | None
    messages: MessageCounts
    # Leaderboard totals (all time) where the games feed them: energy, steps, eggs.
    game: dict[str, float] | None = None

    @classmethod
    def fields_of(cls, c: Client) -> dict[str, Any]:
        u = c.profile
        return {
            "user_id": u.id,
            "display_name": u.display_name,
            "avatar_url": u.avatar_url,
            "badge": u.badge,
            "is_cardholder": u.is_cardholder,
            "region": u.region,
            "risk_profile": u.risk_profile,
            "assigned_at": c.assigned_at,
            "last_active_at": c.last_active_at,
            "conversation_id": c.conversation_id,
            "messages": MessageCounts.model_validate(c.messages),
            "game": c.game,
        }

    @classmethod
    def of(cls, c: Client) -> ClientSummary:
        return cls(**cls.fields_of(c))


class ChatLine(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from a chat ``Message``

    seq: int
    sender_id: str | None
    kind: str
    body: dict[str, object]
    created_at: datetime


class ClientDetail(ClientSummary):
    recent_messages: list[ChatLine]

    @classmethod
    def of(cls, c: Client) -> ClientDetail:
        lines = [ChatLine.model_validate(m) for m in c.recent_messages]
        return cls(**cls.fields_of(c), recent_messages=lines)


class MatchResult(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from ``service.Matched``

    assigned: int
    by_advisor: dict[str, int]
    unassigned: int


class AdvisorProfileIn(BaseModel):
    capacity: StrictInt = Field(ge=0, le=100_000)
    regions: list[str] = Field(default_factory=list, max_length=20)
    languages: list[str] = Field(default_factory=list, max_length=10)
    risk_profiles: list[str] = Field(default_factory=list, max_length=10)


class AdvisorProfilePublic(AdvisorProfileIn):
    advisor_id: str


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


class NotePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from the service's dataclass

    id: str
    client_id: str
    advisor_id: str
    advisor_name: str | None
    text: str
    created_at: datetime


class InboxItem(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from the service's dataclass

    client_id: str
    display_name: str
    conversation_id: str
    unread_count: int
    last_seq: int
    last_message_at: datetime | None


class Inbox(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from the service's dataclass

    items: list[InboxItem]
    total_unread: int


class ConversationRef(BaseModel):
    conversation_id: str


class ProductShare(BaseModel):
    """A product of the catalogue to share into the client's chat, by id (its card is
    rendered from the catalogue; titles and links are no longer given)."""

    model_config = ConfigDict(extra="forbid")

    product_id: str = Field(min_length=1, max_length=64)


class SharedMessage(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from the service's dataclass

    conversation_id: str
    seq: int
    message_id: str


class GameEvent(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from the service's dataclass

    at: datetime
    kind: str  # collected | planted
    grams: int
    detail: str | None = None


class PostEvent(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from the service's dataclass

    id: str
    kind: str
    title: str | None
    excerpt: str
    status: str
    like_count: int
    comment_count: int
    created_at: datetime


class ClientActivity(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from the service's dataclass

    game: list[GameEvent]
    posts: list[PostEvent]


class AdvisorLoad(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from the service's dataclass

    advisor_id: str
    display_name: str
    capacity: int
    clients: int
    regions: list[str]
    languages: list[str]
    risk_profiles: list[str]


class AssignmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from the service's dataclass

    client_id: str
    client_name: str
    advisor_id: str
    advisor_name: str
    fit: int
    assigned_at: datetime


class ReassignIn(BaseModel):
    advisor_id: str = Field(min_length=1, max_length=40)
