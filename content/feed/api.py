from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic_core import to_json

from app.deps import CurrentUser, ReadSession, Rt
from app.pagination import Cursor, Limit, Page
from content.posts import feeds
from content.posts.schemas import PostPublic

router = APIRouter(tags=["content"])


@router.get("/v1/feed", response_model=Page[PostPublic])
async def get_feed(
    user: CurrentUser,
    db: ReadSession,
    rt: Rt,
    tab: Annotated[Literal["latest", "following", "hot", "for_you"], Query()] = "latest",
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    """A page of a feed tab. `for_you` ranks followed, hot and suitable-product posts by
    the member's topic tags (each item's `reason` says why); without topic tags it falls
    back to the hot order (`reason.code: hot`)."""
    found = await feeds.feed(db, rt, viewer=user, tab=tab, limit=limit, cursor=cursor)
    # Plain values in PostPublic's shape, built by the server: serialised once, unvalidated.
    return Response(
        to_json({"items": found.items, "next_cursor": found.next_cursor}), media_type="application/json"
    )
