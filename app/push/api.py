"""Push devices and settings (``/v1/me/devices``, ``/v1/me/push-settings``); in dev and test,
``GET /v1/dev/pushes``: what the log sender recorded in this process."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app.deps import CurrentUser, DbSession, Rt
from app.push import service as push
from app.push.schemas import DeviceIn, DevicePublic, LoggedPush, LoggedPushes, PushSettingsIO, QuietHours
from app.push.senders import LogSender

router = APIRouter(tags=["push"])
dev_router = APIRouter(tags=["dev"])


@router.post("/v1/me/devices", response_model=DevicePublic, status_code=201)
async def register_device(body: DeviceIn, user: CurrentUser, db: DbSession, rt: Rt) -> DevicePublic:
    """Register this phone's push token (APNs, FCM or HMS); a token already registered
    moves to me. Pushes go to devices while I have no live WebSocket."""
    d = await push.register_device(db, rt, user_id=user.id, platform=body.platform, token=body.token)
    return DevicePublic.model_validate(d)


@router.delete(
    "/v1/me/devices/{token}",
    status_code=204,
    response_class=Response,
    responses={404: {"description": "not one of my devices"}},
)
async def remove_device(
    token: Annotated[str, Path(max_length=512)], user: CurrentUser, db: DbSession
) -> Response:
    """Stop pushing to a device (on sign-out on that phone)."""
    await push.remove_device(db, user_id=user.id, token=token)
    return Response(status_code=204)


def _shaped(s: push.Settings) -> PushSettingsIO:
    quiet = QuietHours(start=s.quiet_start, end=s.quiet_end) if s.quiet_start and s.quiet_end else None
    return PushSettingsIO(muted=s.muted, quiet_hours=quiet)  # type: ignore[arg-type]


@router.get("/v1/me/push-settings", response_model=PushSettingsIO)
async def get_push_settings(user: CurrentUser, db: DbSession) -> PushSettingsIO:
    return _shaped(await push.get_settings(db, user_id=user.id))


@router.put("/v1/me/push-settings", response_model=PushSettingsIO)
async def put_push_settings(body: PushSettingsIO, user: CurrentUser, db: DbSession) -> PushSettingsIO:
    """Replace my push settings: muted kinds (chat, money, games, social) and quiet hours."""
    q = body.quiet_hours
    saved = await push.set_settings(
        db,
        user_id=user.id,
        muted=list(body.muted),
        quiet_start=q.start if q else None,
        quiet_end=q.end if q else None,
    )
    return _shaped(saved)


@dev_router.get("/v1/dev/pushes", response_model=LoggedPushes)
async def logged_pushes(
    user: CurrentUser, rt: Rt, user_id: Annotated[str | None, Query(max_length=40)] = None
) -> LoggedPushes:
    """What the log sender would have pushed (this process, newest last), after the pushes
    in flight are done."""
    await push.drain(rt)
    out = push.sender(rt)
    sent = list(out.sent) if isinstance(out, LogSender) else []
    return LoggedPushes(
        items=[LoggedPush(**asdict(p)) for p in sent if user_id is None or p.user_id == user_id]
    )
