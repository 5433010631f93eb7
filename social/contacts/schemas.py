from __future__ import annotations

from pydantic import BaseModel, Field


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
    contact_name: str | None
    is_friend: bool


class SyncPublic(BaseModel):
    matches: list[MatchPublic]
    checked: int  # distinct valid numbers in the request
    charged: int  # numbers that counted against the rate limit


class StoredMatchPublic(BaseModel):
    user_id: str
    display_name: str
    avatar_url: str | None
    is_friend: bool
