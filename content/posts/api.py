from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic_core import to_json

from app.deps import CurrentUser, DbSession, Rt
from app.errors import Conflict, Forbidden, documented
from app.pagination import Cursor, Limit, Page
from content.posts import feeds
from content.posts import service as posts
from content.posts.schemas import (
    CommentCreate,
    CommentPublic,
    FollowPublic,
    LikePublic,
    PostCreate,
    PostPublic,
    PostUpdate,
    ReportIn,
    ReportPublic,
)

router = APIRouter(tags=["content"])


@router.post("/v1/posts", response_model=PostPublic, status_code=201)
async def create_post(body: PostCreate, user: CurrentUser, db: DbSession, rt: Rt) -> PostPublic:
    return PostPublic.of(await posts.create_post(db, rt, author=user, body=body))


@router.get("/v1/posts/hot", response_model=Page[PostPublic])
async def hot_posts(
    user: CurrentUser, db: DbSession, rt: Rt, limit: Limit = 20, cursor: Cursor = None
) -> Response:
    """The hot list: the same ranking as ``GET /v1/feed?tab=hot``."""
    found = await feeds.feed(db, rt, viewer=user, tab="hot", limit=limit, cursor=cursor)
    return Response(
        to_json({"items": found.items, "next_cursor": found.next_cursor}), media_type="application/json"
    )


@router.get("/v1/posts/{post_id}", response_model=PostPublic)
async def get_post(post_id: str, user: CurrentUser, db: DbSession, rt: Rt) -> PostPublic:
    return PostPublic.of(await posts.get_post(db, rt, viewer=user, post_id=post_id))


@router.patch(
    "/v1/posts/{post_id}",
    response_model=PostPublic,
    responses=documented(Forbidden("not the author"), Conflict("the edit window has closed")),
)
async def update_post(post_id: str, body: PostUpdate, user: CurrentUser, db: DbSession, rt: Rt) -> PostPublic:
    return PostPublic.of(await posts.update_post(db, rt, user=user, post_id=post_id, body=body))


@router.delete("/v1/posts/{post_id}", status_code=204)
async def delete_post(post_id: str, user: CurrentUser, db: DbSession, rt: Rt) -> Response:
    await posts.delete_post(db, rt, user=user, post_id=post_id)
    return Response(status_code=204)


@router.post("/v1/posts/{post_id}/comments", response_model=CommentPublic, status_code=201)
async def add_comment(
    post_id: str, body: CommentCreate, user: CurrentUser, db: DbSession, rt: Rt
) -> CommentPublic:
    return CommentPublic.of(await posts.add_comment(db, rt, user=user, post_id=post_id, body=body))


@router.get("/v1/posts/{post_id}/comments", response_model=Page[CommentPublic])
async def list_comments(
    post_id: str, user: CurrentUser, db: DbSession, rt: Rt, limit: Limit = 20, cursor: Cursor = None
) -> Page[CommentPublic]:
    found = await posts.list_comments(db, rt, viewer=user, post_id=post_id, limit=limit, cursor=cursor)
    return found.page(CommentPublic.of)


@router.post("/v1/posts/{post_id}/answers/{comment_id}/accept", response_model=CommentPublic)
async def accept_answer(
    post_id: str, comment_id: str, user: CurrentUser, db: DbSession, rt: Rt
) -> CommentPublic:
    accepted = await posts.accept_answer(db, rt, user=user, post_id=post_id, comment_id=comment_id)
    return CommentPublic.of(accepted)


@router.post("/v1/posts/{post_id}/like", response_model=LikePublic)
async def like(post_id: str, user: CurrentUser, db: DbSession, rt: Rt) -> LikePublic:
    return LikePublic.model_validate(await posts.like(db, rt, user=user, post_id=post_id))


@router.delete("/v1/posts/{post_id}/like", response_model=LikePublic)
async def unlike(post_id: str, user: CurrentUser, db: DbSession, rt: Rt) -> LikePublic:
    return LikePublic.model_validate(await posts.unlike(db, rt, user=user, post_id=post_id))


@router.post("/v1/posts/{post_id}/report", response_model=ReportPublic, status_code=202)
async def report(post_id: str, body: ReportIn, user: CurrentUser, db: DbSession, rt: Rt) -> ReportPublic:
    await posts.report(db, rt, user=user, post_id=post_id, reason=body.reason)
    return ReportPublic(post_id=post_id)


@router.post("/v1/users/{user_id}/follow", response_model=FollowPublic)
async def follow(user_id: str, user: CurrentUser, db: DbSession, rt: Rt) -> FollowPublic:
    return FollowPublic.model_validate(await posts.follow(db, rt, user=user, target_id=user_id, on=True))


@router.delete("/v1/users/{user_id}/follow", response_model=FollowPublic)
async def unfollow(user_id: str, user: CurrentUser, db: DbSession, rt: Rt) -> FollowPublic:
    return FollowPublic.model_validate(await posts.follow(db, rt, user=user, target_id=user_id, on=False))
