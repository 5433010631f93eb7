from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from app.auth.schemas import BADGE_DESCRIPTION, Badge

if TYPE_CHECKING:
    from social.contacts.service import Match, Synced


class ContactIn(BaseModel):
    phone: str = Field(min_length=1, max_length=40)
    name: str | None = Field(default=None, max_length=100)


class SyncIn(BaseModel):
    # The upper bound is the setting ``contacts_sync_max`` (checked by the service);
    # this one only keeps absurd bodies out of the parser's hands.
    contacts: list[ContactIn] = Field(max_length=20_000)


class MatchPublic(BaseModel):
    user_id: str
    display_name: str
    avatar_url: str | None
    badge: Badge | None = Field(description=BADGE_DESCRIPTION)
    contact_name: str | None
    is_friend: bool

    @classmethod
    def of(cls, m: Match) -> MatchPublic:
        p = m.profile
        return cls(
            user_id=p.id,
            display_name=p.display_name,
            avatar_url=p.avatar_url,
            badge=p.badge,
            contact_name=m.contact_name,
            is_friend=m.is_friend,
        )


class SyncPublic(BaseModel):
    matches: list[MatchPublic]
    checked: int  # distinct valid numbers in the request
    charged: int  # numbers that counted against the rate limit

    @classmethod
    def of(cls, s: Synced) -> SyncPublic:
        return cls(matches=[MatchPublic.of(m) for m in s.matches], checked=s.checked, charged=s.charged)


class StoredMatchPublic(BaseModel):
    user_id: str
    display_name: str
    avatar_url: str | None
    badge: Badge | None = Field(description=BADGE_DESCRIPTION)
    is_friend: bool

    @classmethod
    def of(cls, m: Match) -> StoredMatchPublic:
        p = m.profile
        return cls(
            user_id=p.id,
            display_name=p.display_name,
            avatar_url=p.avatar_url,
            badge=p.badge,
            is_friend=m.is_friend,
        )
