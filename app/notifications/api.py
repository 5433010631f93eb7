from __future__ import annotations

from fastapi import APIRouter

from app.deps import CurrentUser, DbSession, Rt
from app.notifications import service as notifications
from app.notifications.schemas import MarkedRead, MarkRead, NotificationPublic
from app.pagination import Cursor, Limit, Page

router = APIRouter(tags=["notifications"])


@router.get("/v1/notifications", response_model=Page[NotificationPublic])
async def list_notifications(
    user: CurrentUser, db: DbSession, limit: Limit = 20, cursor: Cursor = None, unread: bool | None = None
) -> Page[NotificationPublic]:
    return await notifications.list_for(db, user_id=user.id, limit=limit, cursor=cursor, unread=unread)


@router.post("/v1/notifications/read", response_model=MarkedRead)
async def mark_read(body: MarkRead, user: CurrentUser, db: DbSession, rt: Rt) -> MarkedRead:
    updated = await notifications.mark_read(db, rt, user_id=user.id, ids=body.ids, everything=body.all)
    return MarkedRead(updated=updated)
