from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field, StrictInt

from app.types import INT32_MAX


class StepsIn(BaseModel):
    date: dt.date
    steps: StrictInt = Field(ge=0, le=INT32_MAX)


class StepsPublic(BaseModel):
    date: dt.date
    steps: int
    energy_g: int  # the day's ball
    ball_id: str | None
