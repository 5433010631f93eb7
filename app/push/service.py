"""Offline push: who gets a push for an event, and sending it.

``await offline_push(rt, user_ids=…, kind=…, title=…, body=…, data=…)`` runs after the
event's commit (features call it from an after-commit callback). Of ``user_ids`` it keeps
those with no live socket (``app.realtime.presence``: a user with a socket gets the
frame instead), who have not muted ``kind`` and are not in their quiet hours (the bank's
time zone, read from the business clock); each of their devices gets one push through
the runtime's sender (``app.push.senders``). The sending runs in a task of its own so the
caller does not wait on a provider; ``drain(rt)`` awaits what is in flight (tests, dev).

Kinds: ``chat`` (messages), ``money`` (transfers, red packets), ``games`` (forest, farm),
``social`` (friends, content, everything else).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import time
from typing import Any

import structlog
from sqlalchemy import ARRAY, String, any_, bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db import execute, reads_alone, transaction
from app.errors import NotFound
from app.push.models import Device, PushSettings
from app.push.senders import Push, Sender, make_sender
from app.realtime import presence
from app.runtime import Runtime, Slot

log = structlog.get_logger()

KINDS = ("chat", "money", "games", "social")


class Pusher:
    """A runtime's sender and its sends in flight."""

    def __init__(self, rt: Runtime) -> None:
        self.sender: Sender = make_sender(rt.settings)
        self.tasks: set[asyncio.Task[None]] = set()


PUSHER: Slot[Pusher] = Slot("push.pusher", Pusher)


def sender(rt: Runtime) -> Sender:
    return rt.slot(PUSHER).sender


# ---- devices and settings ------------------------------------------------------------


async def register_device(
    db: AsyncSession, rt: Runtime, *, user_id: str, platform: str, token: str
) -> Device:
    """Register (or move to me) a device token."""
    now = rt.clock.now()
    async with transaction(db):
        await db.execute(
            insert(Device)
            .values(token=token, user_id=user_id, platform=platform, created_at=now)
            .on_conflict_do_update(
                index_elements=[Device.token],
                set_={"user_id": user_id, "platform": platform, "created_at": now},
            )
        )
    return Device(token=token, user_id=user_id, platform=platform, created_at=now)  # type: ignore[arg-type]


async def remove_device(db: AsyncSession, *, user_id: str, token: str) -> None:
    """Stop pushing to one of my devices. Raises NotFound."""
    async with transaction(db):
        gone = await db.execute(delete(Device).where(Device.token == token, Device.user_id == user_id))
        if not gone.rowcount:  # type: ignore[attr-defined]
            raise NotFound("no such device")


@dataclass(frozen=True)
class Settings:
    muted: list[str]
    quiet_start: str | None
    quiet_end: str | None


async def get_settings(db: AsyncSession, *, user_id: str) -> Settings:
    row = await db.get(PushSettings, user_id)
    if row is None:
        return Settings([], None, None)
    return Settings(list(row.muted), row.quiet_start, row.quiet_end)


async def set_settings(
    db: AsyncSession, *, user_id: str, muted: list[str], quiet_start: str | None, quiet_end: str | None
) -> Settings:
    """Replace my push settings."""
    muted = sorted(set(muted))
    async with transaction(db):
        await db.execute(
            insert(PushSettings)
            .values(user_id=user_id, muted=muted, quiet_start=quiet_start, quiet_end=quiet_end)
            .on_conflict_do_update(
                index_elements=[PushSettings.user_id],
                set_={"muted": muted, "quiet_start": quiet_start, "quiet_end": quiet_end},
            )
        )
    return Settings(muted, quiet_start, quiet_end)


def in_quiet_hours(now_local: time, start: str | None, end: str | None) -> bool:
    """``start`` ≤ now < ``end`` ("HH:MM"), across midnight when start > end."""
    if not start or not end or start == end:
        return False
    t = now_local.strftime("%H:%M")
    return start <= t < end if start < end else (t >= start or t < end)


# ---- sending --------------------------------------------------------------------------


_devices = Device.__table__  # type: ignore[attr-defined]
_settings = PushSettings.__table__  # type: ignore[attr-defined]
# The devices of some users with each one's settings: one statement, run on its own.
_TARGETS = (
    select(
        _devices.c.user_id,
        _devices.c.platform,
        _devices.c.token,
        _settings.c.muted,
        _settings.c.quiet_start,
        _settings.c.quiet_end,
    )
    .select_from(_devices.outerjoin(_settings, _settings.c.user_id == _devices.c.user_id))
    .where(_devices.c.user_id == any_(bindparam("ids", type_=ARRAY(String))))
    .order_by(_devices.c.created_at)
)


@dataclass(frozen=True)
class Event:
    """One event to push to those of ``user_ids`` who are offline (``offline_push_many``)."""

    user_ids: list[str]
    kind: str
    title: str
    body: str
    data: dict[str, Any]


async def _deliver(rt: Runtime, events: list[Event]) -> int:
    """Push each event to its offline users: one presence look-up for all the events' users,
    and the offline ones' settings and devices read once."""
    everyone = list(dict.fromkeys(u for e in events for u in e.user_ids))
    live = await presence.online(rt, everyone)
    offline = [u for u in everyone if u not in live]
    if not offline:
        return 0
    async with rt.sessionmaker() as db:
        targets = (await execute(await reads_alone(db), _TARGETS, {"ids": offline})).all()
    now_local = rt.clock.local(rt.clock.now()).time()
    out = rt.slot(PUSHER).sender
    sent = 0
    for e in events:
        wanted = set(e.user_ids) - live
        for t in targets:
            if t.user_id not in wanted:
                continue
            if e.kind in (t.muted or ()) or in_quiet_hours(now_local, t.quiet_start, t.quiet_end):
                continue
            await out.send(Push(t.user_id, t.platform, t.token, e.kind, e.title, e.body, e.data))
            sent += 1
    return sent


async def offline_push(
    rt: Runtime, *, user_ids: list[str], kind: str, title: str, body: str, data: dict[str, Any]
) -> None:
    """Push an event to those of ``user_ids`` without a live socket (call after commit;
    returns at once, the sending runs in a task)."""
    await offline_push_many(rt, [Event(user_ids, kind, title, body, data)])


async def offline_push_many(rt: Runtime, events: list[Event]) -> None:
    """``offline_push`` for several events at once (a chat send batch): one task and one
    presence look-up for them all."""
    events = [e for e in events if e.user_ids]
    if not events:
        return
    pusher = rt.slot(PUSHER)

    async def run() -> None:
        try:
            await _deliver(rt, events)
        except Exception:  # a push is best effort: the event itself is stored and delivered
            log.exception("push_failed", kinds=sorted({e.kind for e in events}))

    task = asyncio.create_task(run(), name="push")
    pusher.tasks.add(task)
    task.add_done_callback(pusher.tasks.discard)


async def drain(rt: Runtime) -> None:
    """Wait for the pushes in flight (tests and the dev endpoint)."""
    pusher = rt.slot(PUSHER)
    while pusher.tasks:
        await asyncio.gather(*list(pusher.tasks), return_exceptions=True)


# -- a member's data (app/profile) --------------------------------------------------------


async def personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> dict[str, Any]:
    """The member's phones and push settings (their export's ``push`` section); a device
    token is shown by its last 6 characters only."""
    devices = (
        await db.execute(
            select(Device).where(col(Device.user_id) == user_id).order_by(col(Device.created_at))
        )
    ).scalars()
    settings = await db.get(PushSettings, user_id)
    return {
        "devices": [
            {"platform": str(d.platform), "token_end": d.token[-6:], "created_at": d.created_at.isoformat()}
            for d in devices
        ],
        "muted": list(settings.muted) if settings else [],
        "quiet_start": settings.quiet_start if settings else None,
        "quiet_end": settings.quiet_end if settings else None,
    }


async def erase_personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> None:
    """An erased member's phones get no push any more: devices and settings deleted."""
    await db.execute(delete(Device).where(col(Device.user_id) == user_id))
    await db.execute(delete(PushSettings).where(col(PushSettings.user_id) == user_id))
