"""Forest tables: energy balls, collections, the per-user energy account, trees, groves."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.dbtypes import at_field


class EnergyBall(SQLModel, table=True):
    """A ball of energy; the amounts and rules are fixed when it is made (rules_version)."""

    __tablename__ = "energy_balls"
    __table_args__ = (
        UniqueConstraint("owner_id", "source_ref"),
        Index("ix_energy_balls_owner_id_expires_at", "owner_id", "expires_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    owner_id: str = Field(foreign_key="users.id", max_length=40)
    source: str = Field(max_length=32)  # steps | offline_payment | … | water
    source_ref: str = Field(max_length=80)  # steps:<day> | event:<event_id> | water:<id>
    amount_g: int
    remaining_g: int
    friends_taken_g: int = Field(default=0)
    share_pct: int  # friends together take at most this share
    take_pct: int  # one friend's take per collect
    last_take_g: int = Field(default=0)  # what the latest conditional UPDATE took (RETURNING)
    rules_version: str = Field(max_length=32)
    created_at: datetime = at_field()
    ripe_at: datetime = at_field()
    expires_at: datetime = at_field()


class BallCollection(SQLModel, table=True):
    """Who took how much from which ball; one row per collector per ball."""

    __tablename__ = "ball_collections"
    __table_args__ = (
        UniqueConstraint("ball_id", "collector_id"),
        Index("ix_ball_collections_collector_id_collected_at", "collector_id", "collected_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    ball_id: str = Field(foreign_key="energy_balls.id", max_length=40)
    owner_id: str = Field(max_length=40)
    collector_id: str = Field(foreign_key="users.id", max_length=40)
    grams: int
    collected_at: datetime = at_field()


class ForestAccount(SQLModel, table=True):
    """Energy held: energy_g = collected_g − spent_g, never negative."""

    __tablename__ = "forest_accounts"

    user_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    energy_g: int = Field(default=0)
    collected_g: int = Field(default=0)
    spent_g: int = Field(default=0)
    protected_until: datetime | None = at_field(nullable=True)


class Watering(SQLModel, table=True):
    """Energy given to a friend; ``n`` numbers a giver's waterings of that friend that day."""

    __tablename__ = "forest_waterings"
    __table_args__ = (UniqueConstraint("from_id", "to_id", "day", "n"),)

    id: str = Field(primary_key=True, max_length=40)
    from_id: str = Field(foreign_key="users.id", max_length=40)
    to_id: str = Field(foreign_key="users.id", max_length=40)
    day: str = Field(max_length=10)
    n: int
    grams: int
    ball_id: str = Field(max_length=40)
    watered_at: datetime = at_field()


class Tree(SQLModel, table=True):
    __tablename__ = "forest_trees"

    id: str = Field(primary_key=True, max_length=40)
    owner_id: str = Field(foreign_key="users.id", index=True, max_length=40)
    species_id: str = Field(max_length=32)
    species_name: str = Field(max_length=100)
    region: str = Field(max_length=100)
    cost_g: int
    grove_id: str | None = Field(default=None, max_length=40)
    rules_version: str = Field(max_length=32)
    planted_at: datetime = at_field()

    @property
    def certificate_url(self) -> str:
        return f"/v1/forest/trees/{self.id}/certificate.png"


class Grove(SQLModel, table=True):
    """Co-planting: friends contribute energy until the species' cost is met."""

    __tablename__ = "forest_groves"

    id: str = Field(primary_key=True, max_length=40)
    creator_id: str = Field(foreign_key="users.id", index=True, max_length=40)
    species_id: str = Field(max_length=32)
    cost_g: int
    raised_g: int = Field(default=0)
    last_take_g: int = Field(default=0)
    tree_id: str | None = Field(default=None, max_length=40)
    created_at: datetime = at_field()
    completed_at: datetime | None = at_field(nullable=True)


class GroveContribution(SQLModel, table=True):
    __tablename__ = "forest_grove_contributions"

    id: str = Field(primary_key=True, max_length=40)
    grove_id: str = Field(foreign_key="forest_groves.id", index=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", max_length=40)
    grams: int
    contributed_at: datetime = at_field()
