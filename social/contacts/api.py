from __future__ import annotations

from fastapi import APIRouter, Response

from app.deps import CurrentUser, DbSession, Rt
from app.errors import RateLimited, documented
from app.pagination import Page
from social.contacts import service as contacts
from social.contacts.schemas import StoredMatchPublic, SyncIn, SyncPublic

router = APIRouter(tags=["contacts"])


@router.post(
    "/v1/contacts/sync",
    response_model=SyncPublic,
    responses=documented(RateLimited("too many new numbers checked today")),
)
async def sync(body: SyncIn, user: CurrentUser, db: DbSession, rt: Rt) -> SyncPublic:
    return SyncPublic.of(await contacts.sync(db, rt, user_id=user.id, contacts=body.contacts))


@router.get("/v1/contacts/matches", response_model=Page[StoredMatchPublic])
async def matches(user: CurrentUser, db: DbSession) -> Page[StoredMatchPublic]:
    """My stored matches, in one page (``next_cursor`` is null)."""
    return Page(items=[StoredMatchPublic.of(m) for m in await contacts.stored_matches(db, user_id=user.id)])


@router.delete("/v1/contacts/matches", status_code=204)
async def forget(user: CurrentUser, db: DbSession) -> Response:
    await contacts.forget(db, user_id=user.id)
    return Response(status_code=204)
