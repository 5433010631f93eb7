from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from app.types import PositiveGrams


class VisitorPublic(BaseModel):
    user_id: str
    display_name: str
    since: datetime
    until: datetime
    eaten_g: int


class AwayPublic(BaseModel):
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


class FeedPublic(BaseModel):
    feed_g: int
    bowl_g: int
    eating_until: datetime | None


class VisitPublic(BaseModel):
    host_id: str
    until: datetime


class ChasePublic(BaseModel):
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


class ProjectPublic(BaseModel):
    id: str
    name: str


class ProjectList(BaseModel):
    items: list[ProjectPublic]
