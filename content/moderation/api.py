from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from app.auth.service import Caller
from app.deps import DbSession, Rt, require_role
from app.pagination import Cursor, Limit, Page
from content.moderation import service as moderation
from content.moderation.models import Decision
from content.moderation.schemas import (
    AuditPublic,
    DecisionIn,
    DecisionPublic,
    MuteIn,
    MutePublic,
    QueueItem,
    TermsIn,
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


@router.get("/v1/moderation/queue", response_model=Page[QueueItem])
async def get_queue(
    user: Moderator, db: DbSession, limit: Limit = 20, cursor: Cursor = None
) -> Page[QueueItem]:
    return (await moderation.queue(db, limit=limit, cursor=cursor)).page(QueueItem.of)


@router.post("/v1/moderation/items/{item_id}/decision", response_model=DecisionPublic)
async def decide(item_id: str, body: DecisionIn, user: Moderator, db: DbSession, rt: Rt) -> DecisionPublic:
    decided = await moderation.decide(
        db, rt, moderator_id=user.id, item_id=item_id, action=Decision(body.action), reason=body.reason
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
    user: Moderator, db: DbSession, limit: Limit = 20, cursor: Cursor = None
) -> Page[AuditPublic]:
    return (await moderation.audit_log(db, limit=limit, cursor=cursor)).page(AuditPublic.model_validate)
