"""Staff sign-in and the staff audit log.

Sign-in uses the app's own one-time codes (``app.auth``); only an existing user holding a
staff role gets a console session. Every staff action is appended to ``staff_actions``
(who, what, when, from where, and whether it was refused), in its own transaction right
after the action, so a refused action is audited too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import service as auth
from app.console import sessions
from app.console.models import StaffAction
from app.console.schemas import StaffActionPublic
from app.db import end_read, transaction
from app.errors import Forbidden, QuanziError
from app.ids import new_id
from app.pagination import ID_CURSOR, Page, decode_cursor, encode_cursor
from app.runtime import Runtime

STAFF_ROLES = ("advisor", "moderator", "admin")
# Where each role starts, in this order when someone holds several.
HOMES = {"advisor": "/console/advisor", "moderator": "/console/moderation", "admin": "/console/ops"}


def is_staff(user: auth.Caller) -> bool:
    return any(user.has_role(r) for r in STAFF_ROLES)


def home_of(user: auth.Caller) -> str:
    """The console page a staff member lands on. Raises Forbidden (not staff)."""
    for role, path in HOMES.items():
        if user.has_role(role):
            return path
    raise Forbidden("this account has no console access", reason="not_staff")


async def record(
    rt: Runtime,
    *,
    staff_id: str | None,
    action: str,
    ip: str,
    user_agent: str,
    outcome: str = "ok",
    session_id: str | None = None,
    target_kind: str | None = None,
    target_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Append one staff action to the audit log (its own transaction)."""
    async with rt.sessionmaker() as db, transaction(db):
        db.add(
            StaffAction(
                id=new_id("sa_"),
                staff_id=staff_id,
                action=action[:48],
                target_kind=target_kind[:24] if target_kind else None,
                target_id=target_id[:64] if target_id else None,
                outcome=outcome[:32],
                data=data or {},
                ip=ip[:64],
                user_agent=user_agent[:256],
                session_id=session_id[:16] if session_id else None,
                created_at=rt.clock.now(),
            )
        )


async def sign_in(
    db: AsyncSession, rt: Runtime, *, phone: str, code: str, ip: str, user_agent: str
) -> tuple[str, sessions.StaffSession, auth.Profile]:
    """Exchange a one-time code for a console session (audited, refusals too).

    Raises ValidationFailed, Unauthenticated (wrong code, unknown number), RateLimited,
    Forbidden (not staff)."""
    user: auth.Profile | None = None
    try:
        user = await auth.verify_code(db, rt, phone=phone, code=code, client_ip=ip)
        if not is_staff(user):
            raise Forbidden("this account has no console access", reason="not_staff")
    except QuanziError as exc:
        await record(
            rt,
            staff_id=user.id if user is not None else None,
            action="sign_in",
            outcome=exc.code,
            ip=ip,
            user_agent=user_agent,
        )
        raise
    token, session = await sessions.create(rt, user_id=user.id, ip=ip, user_agent=user_agent)
    await record(rt, staff_id=user.id, action="sign_in", ip=ip, user_agent=user_agent, session_id=session.id)
    return token, session, user


async def actions(
    db: AsyncSession,
    *,
    limit: int,
    cursor: str | None,
    staff_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
) -> Page[StaffActionPublic]:
    """The staff audit log, newest first, filtered by staff member, action (prefix) and time."""
    before = decode_cursor(cursor, ID_CURSOR)
    q = select(StaffAction)
    if before is not None:
        q = q.where(StaffAction.id < str(before))
    if staff_id:
        q = q.where(StaffAction.staff_id == staff_id)
    if action:
        q = q.where(StaffAction.action.startswith(action))  # type: ignore[attr-defined]
    if since is not None:
        q = q.where(StaffAction.created_at >= since)
    rows = list((await db.execute(q.order_by(col(StaffAction.id).desc()).limit(limit + 1))).scalars())
    names = await auth.profiles(db, {a.staff_id for a in rows[:limit] if a.staff_id})
    await end_read(db)
    items = [
        StaffActionPublic(
            **a.model_dump(exclude={"session_id"}),
            staff_name=names[a.staff_id].display_name if a.staff_id in names else None,
        )
        for a in rows[:limit]
    ]
    return Page[StaffActionPublic](
        items=items, next_cursor=encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    )
