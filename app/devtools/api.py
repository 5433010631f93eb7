"""Dev and test only: move the service's business clock (like Stripe's test clocks).

Mounted only with ``QUANZI_ENV=dev|test`` (``dev_router``: absent in prod, from the
OpenAPI schema too). Moving the clock needs a login (any user), is logged with who moved
it, and runs the periodic jobs (refunds, expiry sweeps) before answering, so the client
sees what became due at once. The offset is kept in the database: it survives a restart.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from app.deps import CurrentUser, Rt, get_runtime
from app.errors import NotFound
from app.runtime import Runtime

log = structlog.get_logger()


async def dev_only(rt: Runtime = Depends(get_runtime)) -> None:
    if not rt.settings.is_dev:
        raise NotFound()


dev_router = APIRouter(tags=["dev"], dependencies=[Depends(dev_only)])


class ClockAdvance(BaseModel):
    advance_s: float = Field(gt=0, le=366 * 24 * 3600)


class JobRunPublic(BaseModel):
    job: str
    outcome: str


class ClockPublic(BaseModel):
    now: datetime
    offset_s: float
    jobs: list[JobRunPublic] = Field(default_factory=list, description="jobs run after the move")


@dev_router.get("/v1/dev/clock", response_model=ClockPublic)
async def read_clock(rt: Rt) -> ClockPublic:
    return ClockPublic(now=rt.clock.now(), offset_s=rt.clock.offset_s)


@dev_router.post("/v1/dev/clock", response_model=ClockPublic)
async def advance_clock(body: ClockAdvance, user: CurrentUser, rt: Rt) -> ClockPublic:
    """Move business time forward for every worker, then run the periodic jobs (refunds,
    expiry sweeps) so what became due is done when this answers. Needs a login."""
    await rt.advance_clock(body.advance_s, moved_by=user.id)
    log.info("dev_clock_moved", by=user.id, advance_s=body.advance_s, offset_s=rt.clock.offset_s)
    runs = await rt.jobs.run_due(force=True, wait=True) if rt.jobs is not None else []
    return ClockPublic(
        now=rt.clock.now(),
        offset_s=rt.clock.offset_s,
        jobs=[JobRunPublic(job=r.job, outcome=r.outcome) for r in runs],
    )
