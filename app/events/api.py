from __future__ import annotations

from fastapi import APIRouter

from app.deps import CurrentUser, DbSession, Rt, ServiceCaller
from app.events import service as events
from app.events.schemas import SpendingBatchIn, SpendingResult, StepsIn, StepsPublic

router = APIRouter(tags=["events"])


@router.post("/v1/events/spending", response_model=SpendingResult)
async def spending(body: SpendingBatchIn, caller: ServiceCaller, db: DbSession, rt: Rt) -> SpendingResult:
    return await events.ingest_spending(db, rt, events=body.events)


@router.post("/v1/me/steps", response_model=StepsPublic)
async def steps(body: StepsIn, user: CurrentUser, db: DbSession, rt: Rt) -> StepsPublic:
    return await events.report_steps(db, rt, user_id=user.id, day=body.date, steps=body.steps)
