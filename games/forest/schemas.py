from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from app.auth.schemas import BADGE_DESCRIPTION, Badge
from app.types import INT32_MAX, PositiveGrams

if TYPE_CHECKING:
    from games.forest import service
    from games.forest.models import Grove, Tree

FromAttributes = ConfigDict(from_attributes=True)  # from the service's dataclass of the same fields


class BallPublic(BaseModel):
    id: str
    source: str
    amount_g: int
    remaining_g: int
    ripe_at: datetime
    expires_at: datetime
    state: str  # growing | ripe

    @classmethod
    def of(cls, live: service.LiveBall) -> BallPublic:
        b = live.ball
        return cls(
            id=b.id,
            source=b.source,
            amount_g=b.amount_g,
            remaining_g=b.remaining_g,
            ripe_at=b.ripe_at,
            expires_at=b.expires_at,
            state=live.state,
        )


class TreePublic(BaseModel):
    id: str
    species_id: str
    name: str
    region: str
    cost_g: int
    planted_at: datetime
    grove_id: str | None
    certificate_url: str

    @classmethod
    def of(cls, t: Tree) -> TreePublic:
        return cls(
            id=t.id,
            species_id=t.species_id,
            name=t.species_name,
            region=t.region,
            cost_g=t.cost_g,
            planted_at=t.planted_at,
            grove_id=t.grove_id,
            certificate_url=t.certificate_url,
        )


class ForestPublic(BaseModel):
    user_id: str
    energy_g: int
    today_g: int
    balls: list[BallPublic]
    protected_until: datetime | None
    planted: list[TreePublic]
    rules_version: str

    @classmethod
    def of(cls, f: service.Forest) -> ForestPublic:
        return cls(
            user_id=f.user_id,
            energy_g=f.energy_g,
            today_g=f.today_g,
            balls=[BallPublic.of(b) for b in f.balls],
            protected_until=f.protected_until,
            planted=[TreePublic.of(t) for t in f.planted],
            rules_version=f.rules_version,
        )


class CollectPublic(BaseModel):
    model_config = FromAttributes

    collected_g: int
    ball_id: str
    energy_g: int


class FriendForest(BaseModel):
    model_config = FromAttributes

    user_id: str
    display_name: str
    badge: Badge | None = Field(description=BADGE_DESCRIPTION)
    collectable_g: int
    energy_g: int
    collected_g: int
    trees: int
    protected_until: datetime | None


class FriendsPublic(BaseModel):
    items: list[FriendForest]

    @classmethod
    def of(cls, items: list[service.FriendForest]) -> FriendsPublic:
        return cls(items=[FriendForest.model_validate(f) for f in items])


class FriendBallPublic(BallPublic):
    can_take_g: int = Field(
        description="what I would collect from this ball now (0: growing, protected, "
        "collected by me, or the friends' share is gone)"
    )
    collected_by_me: bool

    @classmethod
    def of_friend(cls, fb: service.FriendBall) -> FriendBallPublic:
        b = fb.ball
        return cls(
            id=b.id,
            source=b.source,
            amount_g=b.amount_g,
            remaining_g=b.remaining_g,
            ripe_at=b.ripe_at,
            expires_at=b.expires_at,
            state=fb.state,
            can_take_g=fb.can_take_g,
            collected_by_me=fb.collected_by_me,
        )


class FriendForestDetail(BaseModel):
    """A friend's forest: collect a ball with ``POST /v1/forest/balls/{id}/collect``."""

    user_id: str
    display_name: str
    energy_g: int
    trees: int
    protected_until: datetime | None
    collectable_g: int
    balls: list[FriendBallPublic]

    @classmethod
    def of(cls, v: service.FriendForestView) -> FriendForestDetail:
        return cls(
            user_id=v.user_id,
            display_name=v.display_name,
            energy_g=v.energy_g,
            trees=v.trees,
            protected_until=v.protected_until,
            collectable_g=v.collectable_g,
            balls=[FriendBallPublic.of_friend(b) for b in v.balls],
        )


class WaterIn(BaseModel):
    grams: StrictInt = Field(ge=0, le=INT32_MAX, description="10, 18, 33 or 66 (rules file)")


class WaterPublic(BaseModel):
    model_config = FromAttributes

    ball_id: str
    grams: int
    energy_g: int
    remaining_today: int


class ProtectPublic(BaseModel):
    protected_until: datetime


class SpeciesPublic(BaseModel):
    model_config = FromAttributes

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

    @classmethod
    def of(cls, p: service.Planted) -> PlantPublic:
        return cls(tree_id=p.tree.id, certificate_url=p.tree.certificate_url, energy_g=p.energy_g)


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

    @classmethod
    def of(cls, g: Grove, contributed: int | None = None) -> GrovePublic:
        return cls(
            id=g.id,
            creator_id=g.creator_id,
            species_id=g.species_id,
            cost_g=g.cost_g,
            raised_g=g.raised_g,
            tree_id=g.tree_id,
            completed_at=g.completed_at,
            contributed_g=contributed,
        )
