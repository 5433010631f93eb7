"""Audiences over HTTP: admins define, preview and manage segments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from app.audiences import service as audiences
from app.audiences.schemas import (
    AudienceCreate,
    AudiencePreview,
    AudiencePreviewIn,
    AudiencePublic,
    AudienceUpdate,
)
from app.auth.service import Caller
from app.deps import DbSession, Rt, require_role
from app.errors import Forbidden, NotFound, Unauthenticated, ValidationFailed, documented
from app.pagination import Cursor, Limit, Page

router = APIRouter(tags=["audiences"])

Admin = Annotated[Caller, Depends(require_role("admin"))]
AudienceId = Annotated[str, Path(min_length=1, max_length=40)]

_ADMIN = (Unauthenticated(), Forbidden("requires role admin"))
_RULE = ValidationFailed(
    "a malformed rule, too deep or too large, an unknown attribute or value",
    reason="unknown_attribute",
)
_UNKNOWN = NotFound("no such audience", reason="unknown_audience")


@router.post(
    "/v1/admin/audiences/preview", response_model=AudiencePreview, responses=documented(*_ADMIN, _RULE)
)
async def preview(body: AudiencePreviewIn, admin: Admin, db: DbSession, rt: Rt) -> AudiencePreview:
    """How many members a rule matches now (one counting query), before saving it."""
    return await audiences.preview(db, rt, rule=body.rule)


@router.post(
    "/v1/admin/audiences",
    status_code=201,
    response_model=AudiencePublic,
    responses=documented(*_ADMIN, _RULE),
)
async def create(body: AudienceCreate, admin: Admin, db: DbSession, rt: Rt) -> AudiencePublic:
    """Define a segment: a rule over tags (weight, recency), tiers and member attributes
    (`and`/`or`/`not`). Its members are evaluated at once, then kept current as their
    tags change."""
    return await audiences.create(db, rt, admin_id=admin.id, body=body)


@router.get("/v1/admin/audiences", response_model=Page[AudiencePublic], responses=documented(*_ADMIN))
async def list_audiences(
    admin: Admin, db: DbSession, limit: Limit = 20, cursor: Cursor = None
) -> Page[AudiencePublic]:
    """Segments, newest first, with their member counts."""
    return await audiences.list_audiences(db, limit=limit, cursor=cursor)


@router.get(
    "/v1/admin/audiences/{audience_id}",
    response_model=AudiencePublic,
    responses=documented(*_ADMIN, _UNKNOWN),
)
async def get_audience(audience_id: AudienceId, admin: Admin, db: DbSession) -> AudiencePublic:
    return await audiences.get(db, segment_id=audience_id)


@router.patch(
    "/v1/admin/audiences/{audience_id}",
    response_model=AudiencePublic,
    responses=documented(*_ADMIN, _UNKNOWN, _RULE),
)
async def update(
    audience_id: AudienceId, body: AudienceUpdate, admin: Admin, db: DbSession, rt: Rt
) -> AudiencePublic:
    """Rename or change the rule; a new rule re-evaluates every member (one query)."""
    return await audiences.update(db, rt, segment_id=audience_id, body=body)


@router.delete(
    "/v1/admin/audiences/{audience_id}",
    status_code=204,
    response_class=Response,
    responses=documented(*_ADMIN, _UNKNOWN),
)
async def delete(audience_id: AudienceId, admin: Admin, db: DbSession, rt: Rt) -> Response:
    """Delete a segment; a campaign targeting it then reaches nobody."""
    await audiences.remove(db, rt, segment_id=audience_id)
    return Response(status_code=204)
