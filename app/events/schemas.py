from __future__ import annotations

from pydantic import BaseModel, Field

from app.types import PositiveFen, Timestamp


class SpendingEventIn(BaseModel):
    event_id: str = Field(min_length=1, max_length=64)
    user_id: str = Field(min_length=1, max_length=40)
    amount_fen: PositiveFen
    category: str = Field(min_length=1, max_length=32)
    occurred_at: Timestamp


class SpendingBatchIn(BaseModel):
    events: list[SpendingEventIn] = Field(min_length=1, max_length=1000)


class SpendingResult(BaseModel):
    received: int
    accepted: int  # new events stored
    duplicates: int  # event_id seen before (idempotent replay)
    energy_balls: int  # balls made
    energy_g: int
    unknown_category: int  # ignored and counted
    unknown_user: int  # not a Quanzi user: ignored and counted
    no_energy: int  # known category, but too small, over the cap, or earns nothing
