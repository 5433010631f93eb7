"""Users, their linked cards, and their login sessions with rotating refresh tokens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.auth.names import Badge, badge_of
from app.dbenums import enum_field, one_of
from app.dbtypes import at_field

ROLES = ("user", "advisor", "moderator", "admin", "editor")


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: str = Field(primary_key=True, max_length=40)
    # HMAC-SHA256 of the E.164 number under the server's key: for lookup and matching.
    phone_hash: str = Field(max_length=64, unique=True)
    phone_masked: str = Field(max_length=32)  # "+86 138****8000", for display only
    display_name: str = Field(max_length=64)
    avatar_url: str | None = Field(default=None, max_length=512)
    roles: str = Field(default="user", max_length=128)  # comma-separated, see ROLES
    is_cardholder: bool = Field(default=False)
    discoverable: bool = Field(default=True)
    region: str | None = Field(default=None, max_length=32)
    language: str = Field(default="zh", max_length=8)
    risk_profile: str | None = Field(default=None, max_length=16)
    created_at: datetime = at_field()
    last_active_at: datetime | None = at_field(nullable=True)
    # Erased by the member (``DELETE /v1/me``): the row stays, pseudonymised, so the ledger
    # and other members' histories still point somewhere; it can no longer sign in.
    erased_at: datetime | None = at_field(nullable=True)

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(r for r in self.roles.split(",") if r)

    def has_role(self, role: str) -> bool:
        return role in self.role_set

    @property
    def badge(self) -> Badge | None:
        """The verified staff badge (``app.auth.names``)."""
        return badge_of(self.role_set)


class Card(SQLModel, table=True):
    """A bank card linked to a user, as the bank vouched for it: the bank's own call
    (``POST /v1/bank/cards``) or a card token the bank signed (``POST /v1/me/cards``).
    ``card_ref`` is the bank's reference of the card: one user per card."""

    __tablename__ = "user_cards"
    __table_args__ = (UniqueConstraint("card_ref"),)

    id: str = Field(primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=40)
    card_ref: str = Field(max_length=64)
    last4: str = Field(max_length=4)
    # The bank's card product ("unionpay_platinum", "visa_gold_credit"): what card-payment
    # campaigns (``games/campaigns``) may be limited to; None when the bank did not say.
    product: str | None = Field(default=None, max_length=32)
    created_at: datetime = at_field()


class SessionEnd(StrEnum):
    """Why a session ended."""

    LOGOUT = "logout"
    REFRESH_REUSE = "refresh_reuse"  # a spent refresh token came back: the family is revoked
    ERASED = "erased"  # the member erased their account


class AuthSession(SQLModel, table=True):
    """A login on one device: its access tokens carry its id (``sid``) and its refresh
    tokens rotate within it (the "family"). Revoked, every one of them answers 401."""

    __tablename__ = "auth_sessions"
    __table_args__ = (one_of("ended_reason", SessionEnd),)

    id: str = Field(primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=40)
    created_at: datetime = at_field()
    ended_at: datetime | None = at_field(nullable=True)
    ended_reason: SessionEnd | None = enum_field(SessionEnd, default=None, max_length=16, nullable=True)


class RefreshToken(SQLModel, table=True):
    """One refresh token of a session, stored as its SHA-256; it works once."""

    __tablename__ = "auth_refresh_tokens"

    token_hash: str = Field(primary_key=True, max_length=64)
    session_id: str = Field(foreign_key="auth_sessions.id", index=True, max_length=40)
    created_at: datetime = at_field()
    expires_at: datetime = at_field(index=True)
    used_at: datetime | None = at_field(nullable=True)
