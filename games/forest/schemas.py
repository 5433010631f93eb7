from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, StrictInt

from app.types import PositiveGrams


class BallPublic(BaseModel):
    id: str
    source: str
    amount_g: int
    remaining_g: int
    ripe_at: datetime
    expires_at: datetime
    state: str  # growing | ripe


class TreePublic(BaseModel):
    id: str
    species_id: str
    name: str
    region: str
    cost_g: int
    planted_at: datetime
    grove_id: str | None
    certificate_url: str


class ForestPublic(BaseModel):
    user_id: str
    energy_g: int
    today_g: int
    balls: list[BallPublic]
    protected_until: datetime | None
    planted: list[TreePublic]
    rules_version: str


class CollectPublic(BaseModel):
    collected_g: int
    ball_id: str
    energy_g: int


class FriendForest(BaseModel):
    user_id: str
    display_name: str
    collectable_g: int
    energy_g: int
    collected_g: int
    trees: int
    protected_until: datetime | None


class FriendsPublic(BaseModel):
    items: list[FriendForest]


class WaterIn(BaseModel):
    grams: StrictInt = Field(description="10, 18, 33 or 66 (rules file)")


class WaterPublic(BaseModel):
    ball_id: str
    grams: int
    energy_g: int
    remaining_today: int


class ProtectPublic(BaseModel):
    protected_until: datetime


class SpeciesPublic(BaseModel):
    id: str
    name: str
    cost_g: int
    region: str


class SpeciesList(BaseModel):
    items: list[SpeciesPublic]


class PlantIn(BaseModel):
    species_id: str = Field(min_length=1, max_length=32)


class PlantPublic(BaseModel):
    tree_id: str
    certificate_url: str
    energy_g: int


class GroveIn(BaseModel):
    species_id: str = Field(min_length=1, max_length=32)


class ContributeIn(BaseModel):
    grams: PositiveGrams


class GrovePublic(BaseModel):
    id: str
    creator_id: str
    species_id: str
    cost_g: int
    raised_g: int
    tree_id: str | None
    completed_at: datetime | None
    contributed_g: int | None = None  # this request's contribution
