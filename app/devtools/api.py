"""Dev and test only: move the service's business clock (like Stripe's test clocks)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from app.deps import Rt, get_runtime
from app.errors import NotFound
from app.runtime import Runtime


async def dev_only(rt: Runtime = Depends(get_runtime)) -> None:
    if not rt.settings.is_dev:
        raise NotFound()


router = APIRouter(tags=["dev"], dependencies=[Depends(dev_only)])


class ClockAdvance(BaseModel):
    advance_s: float = Field(gt=0, le=366 * 24 * 3600)


class ClockPublic(BaseModel):
    now: datetime
    offset_s: float


@router.get("/v1/dev/clock", response_model=ClockPublic)
async def read_clock(rt: Rt) -> ClockPublic:
    return ClockPublic(now=rt.clock.now(), offset_s=rt.clock.offset_s)


@router.post("/v1/dev/clock", response_model=ClockPublic)
async def advance_clock(body: ClockAdvance, rt: Rt) -> ClockPublic:
    await rt.advance_clock(body.advance_s)
    return ClockPublic(now=rt.clock.now(), offset_s=rt.clock.offset_s)
