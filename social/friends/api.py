from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from app.deps import CurrentUser, DbSession, Rt
from app.errors import Conflict, Forbidden, NotFound, RateLimited, documented
from app.pagination import Cursor, Limit, Page
from social.friends import service as friends
from social.friends import suggestions as suggesting
from social.friends.schemas import (
    BlockPublic,
    FriendPublic,
    FriendRequestCreate,
    FriendRequestPublic,
    SuggestionPublic,
)

router = APIRouter(tags=["friends"])


@router.get("/v1/friends", response_model=Page[FriendPublic])
async def list_friends(
    user: CurrentUser, db: DbSession, limit: Limit = 20, cursor: Cursor = None
) -> Page[FriendPublic]:
    found = await friends.list_friends(db, user_id=user.id, limit=limit, cursor=cursor)
    return found.page(FriendPublic.model_validate)


@router.get("/v1/friends/suggestions", response_model=Page[SuggestionPublic])
async def list_suggestions(
    user: CurrentUser, db: DbSession, rt: Rt, limit: Annotated[int, Query(ge=1, le=50)] = 20
) -> Page[SuggestionPublic]:
    """The best ``limit`` suggestions, best first: one page (``next_cursor`` is null)."""
    found = await suggesting.suggestions(
        db, rt, user_id=user.id, limit=min(limit, rt.settings.suggestions_max)
    )
    return Page(items=[SuggestionPublic.of(s) for s in found])


@router.post(
    "/v1/friends/requests",
    status_code=201,
    response_model=FriendRequestPublic,
    responses=documented(
        Forbidden("not discoverable to you"),
        NotFound("no such user, or a block either way"),
        Conflict("already friends, or a request is already pending"),
        RateLimited(),
    ),
)
async def send_request(
    body: FriendRequestCreate, user: CurrentUser, db: DbSession, rt: Rt
) -> FriendRequestPublic:
    sent = await friends.send_request(db, rt, user_id=user.id, to_user_id=body.user_id, message=body.message)
    return FriendRequestPublic.of(sent)


@router.get("/v1/friends/requests", response_model=Page[FriendRequestPublic])
async def list_requests(
    user: CurrentUser,
    db: DbSession,
    direction: Literal["incoming", "outgoing"] | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[FriendRequestPublic]:
    found = await friends.list_requests(db, user_id=user.id, direction=direction, limit=limit, cursor=cursor)
    return found.page(FriendRequestPublic.of)


@router.post(
    "/v1/friends/requests/{request_id}/accept",
    response_model=FriendRequestPublic,
    responses=documented(Conflict("the request is no longer pending")),
)
async def accept_request(request_id: str, user: CurrentUser, db: DbSession, rt: Rt) -> FriendRequestPublic:
    """The receiver accepts: the two become friends."""
    decided = await friends.decide_request(db, rt, user_id=user.id, request_id=request_id, action="accept")
    return FriendRequestPublic.of(decided)


@router.post(
    "/v1/friends/requests/{request_id}/decline",
    response_model=FriendRequestPublic,
    responses=documented(Conflict("the request is no longer pending")),
)
async def decline_request(request_id: str, user: CurrentUser, db: DbSession, rt: Rt) -> FriendRequestPublic:
    """The receiver declines."""
    decided = await friends.decide_request(db, rt, user_id=user.id, request_id=request_id, action="decline")
    return FriendRequestPublic.of(decided)


@router.post("/v1/friends/requests/{request_id}/cancel", response_model=FriendRequestPublic)
async def cancel_request(request_id: str, user: CurrentUser, db: DbSession, rt: Rt) -> FriendRequestPublic:
    """The sender withdraws a pending request."""
    decided = await friends.decide_request(db, rt, user_id=user.id, request_id=request_id, action="cancel")
    return FriendRequestPublic.of(decided)


@router.delete("/v1/friends/{friend_id}", status_code=204)
async def unfriend(friend_id: str, user: CurrentUser, db: DbSession) -> Response:
    await friends.unfriend(db, user_id=user.id, friend_id=friend_id)
    return Response(status_code=204)


@router.get("/v1/blocks", response_model=Page[BlockPublic])
async def list_blocks(user: CurrentUser, db: DbSession) -> Page[BlockPublic]:
    """Everyone I blocked, in one page (``next_cursor`` is null)."""
    return Page(items=[BlockPublic.of(b) for b in await friends.list_blocks(db, user_id=user.id)])


@router.post("/v1/blocks/{blocked_id}", status_code=201, response_model=BlockPublic)
async def block(blocked_id: str, user: CurrentUser, db: DbSession, rt: Rt) -> BlockPublic:
    return BlockPublic.of(await friends.block(db, rt, user_id=user.id, blocked_id=blocked_id))


@router.delete("/v1/blocks/{blocked_id}", status_code=204)
async def unblock(blocked_id: str, user: CurrentUser, db: DbSession) -> Response:
    await friends.unblock(db, user_id=user.id, blocked_id=blocked_id)
    return Response(status_code=204)
