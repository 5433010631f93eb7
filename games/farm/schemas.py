from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from app.auth.schemas import BADGE_DESCRIPTION, Badge
from app.types import PositiveGrams

if TYPE_CHECKING:
    from games.farm.models import Donation
    from games.farm.service import FarmView

FromAttributes = ConfigDict(from_attributes=True)  # from the service's dataclass of the same fields


class VisitorPublic(BaseModel):
    model_config = FromAttributes

    user_id: str
    display_name: str
    badge: Badge | None = Field(description=BADGE_DESCRIPTION)
    since: datetime
    until: datetime
    eaten_g: int


class AwayPublic(BaseModel):
    model_config = FromAttributes

    host_id: str
    since: datetime
    until: datetime
    eaten_g: int


class FarmPublic(BaseModel):
    feed_g: int
    bowl_g: int
    eating_until: datetime | None
    state: str  # hungry | eating
    eggs: int
    eggs_laid: int
    eggs_donated: int
    egg_progress_g: int
    visitors: list[VisitorPublic]
    thief: VisitorPublic | None
    away: AwayPublic | None

    @classmethod
    def of(cls, f: FarmView) -> FarmPublic:
        thief = VisitorPublic.model_validate(f.thief) if f.thief else None
        return cls(
            feed_g=f.feed_g,
            bowl_g=f.bowl_g,
            eating_until=f.eating_until,
            state=f.state,
            eggs=f.eggs,
            eggs_laid=f.eggs_laid,
            eggs_donated=f.eggs_donated,
            egg_progress_g=f.egg_progress_g,
            visitors=[thief] if thief else [],
            thief=thief,
            away=AwayPublic.model_validate(f.away) if f.away else None,
        )


class FeedPublic(BaseModel):
    model_config = FromAttributes

    feed_g: int
    bowl_g: int
    eating_until: datetime | None


class VisitPublic(BaseModel):
    host_id: str
    until: datetime


class ChasePublic(BaseModel):
    model_config = FromAttributes

    visitor_id: str
    returned_g: int
    feed_g: int


class DonateIn(BaseModel):
    eggs: PositiveGrams = Field(description="how many eggs")
    project_id: str = Field(min_length=1, max_length=32)


class DonatePublic(BaseModel):
    donation_id: str
    project_id: str
    eggs: int
    eggs_left: int

    @classmethod
    def of(cls, d: Donation, eggs_left: int) -> DonatePublic:
        return cls(donation_id=d.id, project_id=d.project_id, eggs=d.eggs, eggs_left=eggs_left)


class ProjectPublic(BaseModel):
    model_config = FromAttributes

    id: str
    name: str


class ProjectList(BaseModel):
    items: list[ProjectPublic]
