from __future__ import annotations

from fastapi import APIRouter

from app.deps import CurrentUser, DbSession, Rt
from games.energy import service as energy
from games.energy.schemas import StepsIn, StepsPublic

router = APIRouter(tags=["events"])


@router.post("/v1/me/steps", response_model=StepsPublic)
async def steps(body: StepsIn, user: CurrentUser, db: DbSession, rt: Rt) -> StepsPublic:
    return await energy.report_steps(db, rt, user_id=user.id, day=body.date, steps=body.steps)
