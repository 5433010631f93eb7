"""The dev clock's offset, kept so that a restart does not send business time back."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.dbtypes import at_field


class DevClock(SQLModel, table=True):
    """One row (id 1): how far business time runs ahead of the wall clock, and who moved it."""

    __tablename__ = "dev_clock"

    id: int = Field(default=1, primary_key=True)
    offset_s: float = Field(default=0.0)
    moved_by: str | None = Field(default=None, max_length=40)
    moved_at: datetime = at_field()
