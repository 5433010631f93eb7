from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field, StrictBool

from app.auth.cards import CARD_PRODUCT_PATTERN, REF_PATTERN
from app.auth.models import User
from app.auth.names import Badge, badge_of

if TYPE_CHECKING:
    from app.auth.service import Caller

BADGE_DESCRIPTION = (
    'verified staff badge to show next to the name: "advisor" (理财经理), "staff" (moderator, '
    "admin, editor) or null; only a role gives it, never the name"
)


class OtpRequest(BaseModel):
    phone: str = Field(min_length=3, max_length=32)


class OtpSent(BaseModel):
    sent: bool = True
    dev_code: str | None = Field(default=None, description="only with QUANZI_ENV=dev or test")


class TokenRequest(BaseModel):
    phone: str = Field(min_length=3, max_length=32)
    code: str = Field(min_length=4, max_length=12)


class MePublic(BaseModel):
    id: str
    display_name: str
    avatar_url: str | None
    roles: list[str]
    is_cardholder: bool
    discoverable: bool
    phone_masked: str
    badge: Badge | None = Field(description=BADGE_DESCRIPTION)

    @classmethod
    def of(cls, user: User) -> MePublic:
        return cls(
            id=user.id,
            display_name=user.display_name,
            avatar_url=user.avatar_url,
            badge=badge_of(user.role_set),
            roles=sorted(user.role_set),
            is_cardholder=user.is_cardholder,
            discoverable=user.discoverable,
            phone_masked=user.phone_masked,
        )


class PersonCard(BaseModel):
    """A person as a client renders them (name, avatar, staff badge): what other users may
    see of a user. Embedded as ``user``, ``sender``, ``author``, ``members`` … next to the
    bare ids; ``GET /v1/users/{id}`` serves one. Built by ``app.auth.service.card_of``."""

    id: str
    display_name: str
    avatar_url: str | None
    badge: Badge | None = Field(description=BADGE_DESCRIPTION)

    @classmethod
    def of(cls, p: Caller) -> PersonCard:
        return cls(id=p.id, display_name=p.display_name, avatar_url=p.avatar_url, badge=p.badge)


class TokenPublic(BaseModel):
    """A session's token pair: send ``access_token`` as ``Authorization: Bearer …`` until it
    expires (``expires_in`` seconds), then trade ``refresh_token`` for a new pair at
    ``POST /v1/auth/refresh``."""

    access_token: str
    refresh_token: str = Field(description="works once; a new one comes with every refresh")
    expires_in: int = Field(description="seconds until the access token expires")
    token_type: Literal["bearer"] = "bearer"
    user: MePublic


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=16, max_length=256)


class MeUpdate(BaseModel):
    display_name: str | None = Field(default=None, min_length=1, max_length=64)
    discoverable: StrictBool | None = None


class CardLink(BaseModel):
    card_token: str = Field(
        min_length=8,
        max_length=1024,
        description="issued by the bank's app SDK: base64url(json{card_ref, user_id, exp}) "
        '+ "." + base64url(HMAC-SHA256(QUANZI_CARD_TOKEN_KEY, first part)), unpadded',
    )
    last4: str = Field(pattern=r"^[0-9]{4}$")


class BankCardLink(BaseModel):
    """The bank vouches that ``card_ref`` is ``user_id``'s card."""

    user_id: str = Field(min_length=1, max_length=40)
    card_ref: str = Field(pattern=REF_PATTERN, description="the bank's reference of the card")
    last4: str = Field(pattern=r"^[0-9]{4}$")
    product: str | None = Field(
        default=None,
        pattern=CARD_PRODUCT_PATTERN,
        description="the bank's card product (e.g. `unionpay_platinum`), which card-payment campaigns may require",
    )


class CardPublic(BaseModel):
    id: str
    last4: str
    created_at: datetime
    is_cardholder: bool


class BankCardPublic(BaseModel):
    id: str
    user_id: str
    card_ref: str
    last4: str
    product: str | None = None
    created_at: datetime
    is_cardholder: bool
