from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.auth.schemas import BADGE_DESCRIPTION, Badge, PersonCard

if TYPE_CHECKING:
    from social.friends.models import Block
    from social.friends.service import PeerRequest
    from social.friends.suggestions import Suggested


class FriendPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from ``service.Friend``

    user_id: str
    display_name: str
    avatar_url: str | None
    badge: Badge | None = Field(description=BADGE_DESCRIPTION)
    since: datetime


class FriendRequestCreate(BaseModel):
    user_id: str = Field(min_length=1, max_length=40)
    message: str | None = Field(default=None, max_length=200)


class FriendRequestPublic(BaseModel):
    id: str
    direction: Literal["incoming", "outgoing"]
    from_user_id: str
    to_user_id: str
    user: PersonCard  # the other party
    message: str | None
    status: Literal["pending", "accepted", "declined", "cancelled"]
    created_at: datetime
    decided_at: datetime | None

    @classmethod
    def of(cls, seen: PeerRequest) -> FriendRequestPublic:
        r, peer = seen.request, seen.peer
        return cls(
            id=r.id,
            direction="outgoing" if seen.outgoing else "incoming",
            from_user_id=r.from_id,
            to_user_id=r.to_id,
            user=PersonCard(
                id=seen.peer_id,
                display_name=peer.display_name if peer else "",
                avatar_url=peer.avatar_url if peer else None,
                badge=peer.badge if peer else None,
            ),
            message=r.message,
            status=r.status,
            created_at=r.created_at,
            decided_at=r.decided_at,
        )


class BlockPublic(BaseModel):
    user_id: str
    created_at: datetime

    @classmethod
    def of(cls, block: Block) -> BlockPublic:
        return cls(user_id=block.blocked_id, created_at=block.created_at)


class MutualFriends(BaseModel):
    kind: Literal["mutual_friends"] = "mutual_friends"
    count: int


class InContacts(BaseModel):
    kind: Literal["in_contacts"] = "in_contacts"


# Why someone is suggested; the shapes of the contract, each with exactly its own fields.
Reason = Annotated[MutualFriends | InContacts, Field(discriminator="kind")]


class SuggestionPublic(BaseModel):
    user_id: str
    display_name: str
    avatar_url: str | None
    badge: Badge | None = Field(description=BADGE_DESCRIPTION)
    reasons: list[Reason]
    score: float

    @classmethod
    def of(cls, s: Suggested) -> SuggestionPublic:
        reasons: list[Reason] = []
        if s.mutual_friends:
            reasons.append(MutualFriends(count=s.mutual_friends))
        if s.in_contacts:
            reasons.append(InContacts())
        return cls(
            user_id=s.user_id,
            display_name=s.display_name,
            avatar_url=s.avatar_url,
            badge=s.badge,  # type: ignore[arg-type]
            reasons=reasons,
            score=s.score,
        )
