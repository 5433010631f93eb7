"""Farm tables: one farm per user (timestamps, not ticks), eggs laid, donations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.dbtypes import at_field


class Farm(SQLModel, table=True):
    """A user's chicken and bowl; the bowl's state at any instant is ``games.rules.farm.bowl_state``."""

    __tablename__ = "farms"

    user_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    feed_g: int = Field(default=0)
    meal_at: datetime | None = at_field(nullable=True)
    bowl_g: int = Field(default=0)  # grams put in at meal_at
    egg_progress_g: int = Field(default=0)  # settled grams eaten toward the next egg
    eggs: int = Field(default=0)  # settled eggs held
    eggs_laid: int = Field(default=0)
    eggs_donated: int = Field(default=0)
    # A friend's chicken eating from my bowl, from visitor_from until chased or visitor_until.
    visitor_id: str | None = Field(default=None, max_length=40)
    visitor_from: datetime | None = at_field(nullable=True)
    visitor_until: datetime | None = at_field(nullable=True)
    visitor_eaten_g: int = Field(default=0)  # eaten by the visitor before meal_at (carried over)
    # Where my chicken is visiting, if anywhere.
    away_host_id: str | None = Field(default=None, max_length=40)


class EggLog(SQLModel, table=True):
    """Eggs laid (settled), for the eggs leaderboard and its rebuild."""

    __tablename__ = "farm_egg_log"
    __table_args__ = (Index("ix_farm_egg_log_user_id_laid_at", "user_id", "laid_at"),)

    id: str = Field(primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", max_length=40)
    eggs: int
    laid_at: datetime = at_field()


class Donation(SQLModel, table=True):
    __tablename__ = "farm_donations"

    id: str = Field(primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=40)
    project_id: str = Field(max_length=32)
    eggs: int
    donated_at: datetime = at_field()
