from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from app.deps import CurrentUser, DbSession, Rt
from app.pagination import Cursor, Limit, Page
from content.feed import service as feed
from content.posts.schemas import PostPublic

router = APIRouter(tags=["content"])


@router.get("/v1/feed", response_model=Page[PostPublic])
async def get_feed(
    user: CurrentUser,
    db: DbSession,
    rt: Rt,
    tab: Annotated[Literal["latest", "following", "hot"], Query()] = "latest",
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    page = await feed.feed(db, rt, viewer=user, tab=tab, limit=limit, cursor=cursor)
    # Already a validated model: serialise once (FastAPI would validate it again).
    return Response(page.model_dump_json(), media_type="application/json")
