from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.auth.schemas import BADGE_DESCRIPTION, Badge, PersonCard

if TYPE_CHECKING:
    from social.referrals.service import MyReferrals, Redeemed


class InvitedPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from ``service.Invited``

    user_id: str
    display_name: str
    badge: Badge | None = Field(description=BADGE_DESCRIPTION)
    redeemed_at: datetime
    status: Literal["pending", "rewarded", "capped"]
    reward_fen: int


class ReferralMePublic(BaseModel):
    code: str
    share_url: str
    poster_url: str
    invited: list[InvitedPublic]
    rewards_fen: int

    @classmethod
    def of(cls, mine: MyReferrals) -> ReferralMePublic:
        return cls(
            code=mine.code,
            share_url=mine.share_url,
            poster_url="/v1/referrals/me/poster.png",
            invited=[InvitedPublic.model_validate(i) for i in mine.invited],
            rewards_fen=mine.rewards_fen,
        )


class RedeemIn(BaseModel):
    code: str = Field(min_length=4, max_length=16)


class RedeemPublic(BaseModel):
    referrer: PersonCard
    status: Literal["pending", "rewarded", "capped"]
    reward_fen: int  # what the referrer gets when you link your first card

    @classmethod
    def of(cls, r: Redeemed) -> RedeemPublic:
        p = r.referrer
        return cls(
            referrer=PersonCard.of(p),
            status=r.status,
            reward_fen=r.reward_fen,
        )
