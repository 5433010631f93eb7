from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import CurrentUser, ReadSession, Rt
from games.leaderboards import service as leaderboards
from games.leaderboards.schemas import BoardPublic
from games.leaderboards.service import Period, Scope

router = APIRouter(tags=["leaderboards"])


@router.get("/v1/leaderboards/{board}", response_model=BoardPublic)
async def read_board(
    board: str,
    user: CurrentUser,
    db: ReadSession,
    rt: Rt,
    scope: Scope = "global",
    period: Period = "week",
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> BoardPublic:
    found = await leaderboards.read_board(
        db, rt, board=board, scope=scope, period=period, user_id=user.id, limit=limit
    )
    return BoardPublic.of(found)
