"""The message center: stored per user, listed with a cursor, pushed live after commit
(a ``notify`` frame to live sockets, an offline push to the devices of a user without one).

Kinds in use: friend_request, friend_accepted, transfer_received, transfer_refunded,
red_packet_refunded, energy_stolen, watered, tree_planted, post_removed,
referral_reward, moderation_decision, points_expiring, points_exchange, campaign_discount, offer.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db import after_commit, execute, transaction
from app.ids import new_id
from app.notifications.models import Notification
from app.notifications.schemas import NotificationPublic
from app.pagination import ID_CURSOR, Page, decode_cursor, encode_cursor
from app.push.service import offline_push
from app.realtime.hub import user_channel
from app.runtime import Runtime

# The push settings' kind of each notification kind (``app.push``): what a user may mute.
PUSH_KINDS = {
    "transfer_received": "money",
    "transfer_refunded": "money",
    "red_packet_refunded": "money",
    "referral_reward": "money",
    "campaign_discount": "money",
    "offer": "money",
    "energy_stolen": "games",
    "watered": "games",
    "tree_planted": "games",
}
PUSH_TITLES = {
    "friend_request": "新的好友请求",
    "friend_accepted": "好友请求已通过",
    "transfer_received": "收到一笔转账",
    "transfer_refunded": "转账已退回",
    "red_packet_refunded": "红包已退回",
    "energy_stolen": "好友收取了你的能量",
    "watered": "好友给你浇水了",
    "tree_planted": "种树成功",
    "post_removed": "你的内容已被删除",
    "referral_reward": "邀请奖励到账",
    "campaign_discount": "用卡立减已优惠",
    "offer": "你收到一张优惠券",
}


def push_kind(kind: str) -> str:
    return PUSH_KINDS.get(kind, "social")


def to_public(n: Notification) -> NotificationPublic:
    return NotificationPublic(
        id=n.id, kind=n.kind, data=n.data, read=n.read_at is not None, created_at=n.created_at
    )


ADD_SQL = "notification_add"
"""SQL (migration 1002): ``notification_add(id, user_id, kind, data json, now)`` stores a
notification, for use cases that run in the database; they hand it to ``added_in_sql``."""

_ADD = text(f"SELECT {ADD_SQL}(:id, :user_id, :kind, :data, CAST(:now AS timestamptz))")


async def notify(
    db: AsyncSession, rt: Runtime, *, user_id: str, kind: str, data: dict[str, Any]
) -> Notification:
    """Store a notification in the caller's transaction; push it as a ``notify`` frame after commit."""
    n = Notification(id=new_id("n_"), user_id=user_id, kind=kind, data=data, created_at=rt.clock.now())
    params = {"id": n.id, "user_id": user_id, "kind": kind, "data": json.dumps(data), "now": n.created_at}
    await execute(db, _ADD, params)
    _push_after_commit(db, rt, n)
    return n


def added_in_sql(
    db: AsyncSession,
    rt: Runtime,
    *,
    notification_id: str,
    user_id: str,
    kind: str,
    data: dict[str, Any],
    created_at: datetime,
) -> None:
    """A notification another feature's SQL function stored in this transaction
    (``ADD_SQL``): pushed after commit."""
    n = Notification(id=notification_id, user_id=user_id, kind=kind, data=data, created_at=created_at)
    _push_after_commit(db, rt, n)


def _push_after_commit(db: AsyncSession, rt: Runtime, n: Notification) -> None:
    frame = {"op": "notify", "notification": to_public(n).model_dump(mode="json")}
    channel = user_channel(n.user_id)

    async def push() -> None:
        await rt.hub.publish(channel, frame)
        await offline_push(
            rt,
            user_ids=[n.user_id],
            kind=push_kind(n.kind),
            title=PUSH_TITLES.get(n.kind, "圈子"),
            body="",
            data={"notification_id": n.id, "kind": n.kind},
        )

    after_commit(db, push)


async def list_for(
    db: AsyncSession, *, user_id: str, limit: int, cursor: str | None, unread: bool | None
) -> Page[NotificationPublic]:
    """My notifications, newest first."""
    before = decode_cursor(cursor, ID_CURSOR)
    query = select(Notification).where(Notification.user_id == user_id)
    if before is not None:
        query = query.where(Notification.id < str(before))
    if unread is True:
        query = query.where(Notification.read_at.is_(None))  # type: ignore[union-attr]
    elif unread is False:
        query = query.where(Notification.read_at.is_not(None))  # type: ignore[union-attr]
    rows = (await db.execute(query.order_by(Notification.id.desc()).limit(limit + 1))).scalars().all()  # type: ignore[attr-defined]
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return Page[NotificationPublic](items=[to_public(n) for n in rows[:limit]], next_cursor=next_cursor)


async def mark_read(
    db: AsyncSession, rt: Runtime, *, user_id: str, ids: list[str] | None, everything: bool
) -> int:
    """Mark my notifications read (only mine: other ids are ignored)."""
    async with transaction(db):
        stmt = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))  # type: ignore[union-attr]
        if not everything:
            stmt = stmt.where(Notification.id.in_(ids or []))  # type: ignore[attr-defined]
        result = await db.execute(stmt.values(read_at=rt.clock.now()))
    return int(getattr(result, "rowcount", 0) or 0)


async def send(rt: Runtime, *, user_id: str, kind: str, data: dict[str, Any]) -> None:
    """Notify in a transaction of its own (for jobs and hooks outside a use case)."""
    async with rt.sessionmaker() as db, transaction(db):
        await notify(db, rt, user_id=user_id, kind=kind, data=data)


# -- a member's data (app/profile) --------------------------------------------------------


async def personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> dict[str, Any]:
    """The member's message centre (their export's ``notifications`` section)."""
    rows = (
        await db.execute(
            select(Notification).where(Notification.user_id == user_id).order_by(Notification.id)
        )
    ).scalars()
    return {"notifications": [to_public(n).model_dump(mode="json") for n in rows]}


async def erase_personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> None:
    """An erased member's message centre is deleted (nobody else reads it)."""
    await db.execute(delete(Notification).where(col(Notification.user_id) == user_id))
