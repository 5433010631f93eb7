"""Energy bookkeeping: cap counters for spending categories and the daily step totals."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from app.dbtypes import at_field


class EnergyCap(SQLModel, table=True):
    """How many events of a category earned energy in a cap period (day or month)."""

    __tablename__ = "energy_caps"

    user_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    category: str = Field(primary_key=True, max_length=32)
    period: str = Field(primary_key=True, max_length=10)  # 2026-11-25 | 2026-11
    used: int = Field(default=0)
    last_grant: int = Field(default=0)  # set by the conditional update that grants


class StepDay(SQLModel, table=True):
    """A user's running step total for one business day."""

    __tablename__ = "step_days"

    user_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    day: date = Field(primary_key=True)
    steps: int = Field(default=0)
    updated_at: datetime = at_field()
