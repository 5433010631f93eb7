from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from app.deps import DbSession, Rt, ServiceCaller
from app.events import service as events
from app.events.schemas import SpendingBatchIn, SpendingResult

router = APIRouter(tags=["events"])


@router.post("/v1/events/spending", response_model=SpendingResult)
async def spending(body: SpendingBatchIn, caller: ServiceCaller, db: DbSession, rt: Rt) -> SpendingResult:
    done = await events.ingest_spending(db, rt, events=body.events)
    return SpendingResult(**asdict(done))
