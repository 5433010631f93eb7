from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from app.auth.service import Caller
from app.deps import DbSession, Rt, require_role
from app.errors import ValidationFailed
from app.pagination import Cursor, Limit, Page
from content.moderation import service as moderation
from content.moderation.schemas import (
    AuditPublic,
    AuthorHistory,
    DecisionIn,
    DecisionPublic,
    ItemDetail,
    MuteIn,
    MutePublic,
    QueueCounts,
    QueueItem,
    TermsIn,
    TermsPreview,
    TermsPreviewIn,
    TermsPublic,
)

router = APIRouter(tags=["moderation"])
Moderator = Annotated[Caller, Depends(require_role("moderator", "admin"))]


@router.get("/v1/moderation/terms", response_model=TermsPublic)
async def get_terms(user: Moderator, db: DbSession) -> TermsPublic:
    return TermsPublic.of(await moderation.get_terms(db))


@router.put("/v1/moderation/terms", response_model=TermsPublic)
async def put_terms(body: TermsIn, user: Moderator, db: DbSession, rt: Rt) -> TermsPublic:
    config = {name: category.model_dump() for name, category in body.categories.items()}
    terms = await moderation.put_terms(
        db, rt, moderator_id=user.id, config=config, expected_version=body.expected_version
    )
    return TermsPublic.of(terms)


State = Literal["open", "pending", "escalated", "approved", "rejected", "removed"]
Name = Annotated[str | None, Query(max_length=40)]


@router.post("/v1/moderation/terms/preview", response_model=TermsPreview)
async def preview_terms(body: TermsPreviewIn, user: Moderator, db: DbSession, rt: Rt) -> TermsPreview:
    """What term lists (the given, unsaved ones, or the current ones) would match in a text. Changes nothing."""
    config = {n: c.model_dump() for n, c in body.categories.items()} if body.categories is not None else None
    return TermsPreview.of(await moderation.preview_terms(db, rt, text=body.text, config=config))


@router.get("/v1/moderation/queue", response_model=Page[QueueItem])
async def get_queue(
    user: Moderator,
    db: DbSession,
    rt: Rt,
    limit: Limit = 20,
    cursor: Cursor = None,
    state: State = "open",
    reason: Annotated[Literal["filter", "reports"] | None, Query()] = None,
    category: Name = None,
    older_than_h: Annotated[int | None, Query(ge=0, le=24 * 365)] = None,
) -> Page[QueueItem]:
    """Items in a state (default ``open``: awaiting review), oldest first; filters: why they
    were queued, a term category that matched, a minimum age in hours."""
    found = await moderation.queue(
        db,
        limit=limit,
        cursor=cursor,
        state=state,
        reason=reason,
        category=category,
        older_than_h=older_than_h,
        now=rt.clock.now(),
    )
    return found.page(QueueItem.of)


@router.get("/v1/moderation/counts", response_model=QueueCounts)
async def get_counts(user: Moderator, db: DbSession) -> QueueCounts:
    """How many items are pending, escalated, approved, rejected and removed."""
    return QueueCounts(**await moderation.counts(db))


@router.get("/v1/moderation/items/{item_id}", response_model=ItemDetail)
async def get_item(item_id: str, user: Moderator, db: DbSession, rt: Rt) -> ItemDetail:
    """One item in full: marked text, images, the author's history, earlier decisions."""
    return ItemDetail.of(await moderation.item_detail(db, rt, item_id=item_id))


@router.get("/v1/moderation/users/{user_id}/history", response_model=AuthorHistory)
async def author_history(user_id: str, user: Moderator, db: DbSession, rt: Rt) -> AuthorHistory:
    return AuthorHistory.of(await moderation.author_history(db, rt, author_id=user_id))


@router.post("/v1/moderation/items/{item_id}/decision", response_model=DecisionPublic)
async def decide(item_id: str, body: DecisionIn, user: Moderator, db: DbSession, rt: Rt) -> DecisionPublic:
    """approve, reject or remove; or escalate (the item stays open, flagged)."""
    decided = await moderation.act(
        db, rt, moderator_id=user.id, item_id=item_id, action=body.action, reason=body.reason
    )
    return DecisionPublic.of(decided)


@router.post("/v1/moderation/users/{user_id}/mute", response_model=MutePublic)
async def mute(user_id: str, body: MuteIn, user: Moderator, db: DbSession, rt: Rt) -> MutePublic:
    until = await moderation.mute(
        db, rt, moderator_id=user.id, user_id=user_id, hours=body.hours, reason=body.reason
    )
    return MutePublic(user_id=user_id, muted_until=until)


@router.get("/v1/moderation/audit", response_model=Page[AuditPublic])
async def audit(
    user: Moderator,
    db: DbSession,
    limit: Limit = 20,
    cursor: Cursor = None,
    action: Annotated[str | None, Query(max_length=16)] = None,
    moderator_id: Name = None,
    target_kind: Annotated[str | None, Query(max_length=12)] = None,
    target_id: Name = None,
    since: Annotated[datetime | None, Query()] = None,
) -> Page[AuditPublic]:
    """Every decision, newest first; filters: action, moderator, target, since (ISO time with offset)."""
    if since is not None and since.tzinfo is None:
        raise ValidationFailed("since needs a time-zone offset", field="since")
    found = await moderation.audit_log(
        db,
        limit=limit,
        cursor=cursor,
        action=action,
        moderator_id=moderator_id,
        target_kind=target_kind,
        target_id=target_id,
        since=since,
    )
    return found.page(AuditPublic.of)
