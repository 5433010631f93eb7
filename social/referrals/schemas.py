from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.auth.schemas import UserPublic


class InvitedPublic(BaseModel):
    user_id: str
    display_name: str
    redeemed_at: datetime
    status: Literal["pending", "rewarded", "capped"]
    reward_fen: int


class ReferralMePublic(BaseModel):
    code: str
    share_url: str
    poster_url: str
    invited: list[InvitedPublic]
    rewards_fen: int


class RedeemIn(BaseModel):
    code: str = Field(min_length=4, max_length=16)


class RedeemPublic(BaseModel):
    referrer: UserPublic
    status: Literal["pending", "rewarded", "capped"]
    reward_fen: int  # what the referrer gets when you link your first card
