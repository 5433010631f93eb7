"""The ``/v1/ws`` connection: authenticate, then read frames, push hub events, keep alive.

One ``Connection`` per socket runs three tasks until the first ends:

- **reader**: each client frame is checked (size, JSON, object, known op, fields),
  rate limited, and handed to the op's handler. Ops are registered by the features that
  own them (``app/realtime/ops.py``; chat's ``send``/``sync``/``read`` live in
  ``social/chat/ws.py``) and answered before the next frame is read; the gateway itself
  knows only ``auth``, ``ping`` and ``pong``. Anything wrong becomes an ``error`` frame
  (``app.errors.error_frame``); the connection stays open.
- **pusher**: forwards everything published on the user's hub channel
  (``user_channel(user_id)``: messages, read markers, notifications) — every device of
  the user subscribes to it, on whichever worker it is connected. ``message`` frames
  go out in seq order per conversation (``app/realtime/ordering.py``): one that arrives
  ahead of a lower seq is held briefly, then the gap is filled from the database (the
  registry's ``fill_gap``). A ``session_ended`` control message on that channel (logout,
  a reused refresh token: ``app/auth/sessions.py``) closes the session's sockets with
  4401 on every worker; control messages never reach the client.
- **heartbeat**: after ``ws_heartbeat_s`` without hearing from the client the server
  sends ``{"op":"ping"}``; after ``ws_heartbeat_misses`` silent intervals it closes the
  connection (4408). Any frame from the client counts as a sign of life.

Close codes: 4401 authentication failed or the session ended (refresh the token, then
reconnect), 4408 heartbeat timeout, 1012 the node is draining (SIGTERM: uvicorn's graceful
shutdown closes every socket with it before the app's shutdown runs; ``quanzi serve``
gives requests in flight ``shutdown_grace_s``), 1013 the client fell
too far behind its events or the database is unreachable (reconnect shortly and ``sync``). The protocol for client developers
is ``docs/protocol.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
import uuid
from typing import Annotated, Any, Literal

import structlog
from pydantic import BaseModel, Field, StringConstraints, TypeAdapter, ValidationError
from redis.exceptions import RedisError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from app import features
from app.auth import service as auth
from app.auth import sessions
from app.errors import (
    PayloadTooLarge,
    QuanziError,
    RateLimited,
    Unauthenticated,
    Unavailable,
    ValidationFailed,
    database_unreachable,
    error_frame,
)
from app.inputguard import json_has_nul, nul_error
from app.metrics import WS_OPEN
from app.observability import WS_CONNECTIONS
from app.realtime import presence
from app.realtime.hub import Subscription, Wire, user_channel
from app.realtime.hub import dumps as hub_dumps
from app.realtime.hub import loads as hub_loads
from app.realtime.ops import Registry, Socket, WsOp
from app.realtime.ordering import Gap, InOrder
from app.replicas import acting_user
from app.runtime import Runtime

log = structlog.get_logger()

CLOSE_UNAUTHENTICATED = 4401
CLOSE_HEARTBEAT = 4408
CLOSE_TRY_AGAIN = 1013

_SEND_ERRORS = (WebSocketDisconnect, RuntimeError, OSError)


# -- the gateway's own ops ------------------------------------------------------------------


class AuthFrame(BaseModel):
    op: Literal["auth"]
    token: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class PingFrame(BaseModel):
    op: Literal["ping"]


class PongFrame(BaseModel):
    op: Literal["pong"]


class ReadyFrame(BaseModel):
    """The first frame after a successful authentication: pushes flow from here on."""

    op: Literal["ready"]
    user_id: str
    heartbeat_s: float
    max_frame_bytes: int


class ErrorFrame(BaseModel):
    """A frame that failed (``app.errors.error_frame``); the connection stays open."""

    op: Literal["error"]
    cid: str | None = Field(description="the failed frame's cid, when it had one")
    code: str
    message: str
    details: dict[str, Any]


_auth_frame: TypeAdapter[AuthFrame] = TypeAdapter(AuthFrame)


async def _already_authenticated(socket: Socket, frame: AuthFrame) -> None:
    raise ValidationFailed("already authenticated")


async def _ping(socket: Socket, frame: PingFrame) -> None:
    await socket.write({"op": "pong"})


async def _pong(socket: Socket, frame: PongFrame) -> None:
    pass  # an answer to our ping: receiving it was the sign of life


BUILTIN_OPS = (
    WsOp("auth", AuthFrame, _already_authenticated, metered=False),
    WsOp("ping", PingFrame, _ping, metered=False),
    WsOp("pong", PongFrame, _pong, metered=False),
)


# What the gateway itself sends (``ping`` when the client is quiet, ``pong`` to its ping).
BUILTIN_SERVER_FRAMES = (ReadyFrame, PingFrame, PongFrame, ErrorFrame)


@functools.cache
def registry() -> Registry:
    """The ops this process serves: the built-in ones and every feature's (``ws.py``)."""
    return Registry.from_modules(
        features.ws_modules(), builtin=BUILTIN_OPS, builtin_server_frames=BUILTIN_SERVER_FRAMES
    )


def dumps(frame: dict[str, Any]) -> str:
    """A frame's text: a frame from the hub (``Wire``) was serialised once for all its
    recipients."""
    return frame.text if type(frame) is Wire else hub_dumps(frame)


class Bucket:
    """A token bucket for one connection (connection state, so it lives with the socket)."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate = rate_per_s
        self.capacity = float(burst)
        self.tokens = float(burst)
        self.at = time.monotonic()

    def take(self) -> None:
        """Spend one token. Raises RateLimited."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            raise RateLimited(
                "sending too fast", retry_after=int((1 - self.tokens) / self.rate) + 1, limit_per_s=self.rate
            )
        self.tokens -= 1


def _safe_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]


def parse_frame(text: str, max_bytes: int, ops: Registry) -> tuple[WsOp, Any, str | None]:
    """A client frame's op, the frame as its model, and its cid when it has one. Raises
    ValidationFailed, PayloadTooLarge (with the cid known so far in ``details``)."""
    if len(text) > max_bytes // 4 and len(text.encode("utf-8")) > max_bytes:
        raise PayloadTooLarge(f"frames are limited to {max_bytes} bytes", max_bytes=max_bytes)
    try:
        data = hub_loads(text)
    except ValueError as exc:
        raise ValidationFailed("frame is not JSON") from exc
    if not isinstance(data, dict):
        raise ValidationFailed("a frame is a JSON object with an op")
    cid = data.get("cid") if isinstance(data.get("cid"), str) and len(data["cid"]) <= 64 else None
    if json_has_nul(text):  # the same rule as every HTTP request (app/inputguard.py)
        raise _WithCid(nul_error("frame"), None if cid is None or "\x00" in cid else cid)
    op = data.get("op")
    found = ops.ops.get(op) if isinstance(op, str) else None
    if found is None:
        shown = (
            op[:32]
            if isinstance(op, str)
            else op
            if op is None or isinstance(op, int | float | bool)
            else "…"
        )
        raise _WithCid(ValidationFailed("unknown op", op=shown, ops=ops.names), cid)
    try:
        return found, ops.adapters[found.op].validate_python(data), cid
    except ValidationError as exc:
        raise _WithCid(ValidationFailed("invalid frame", errors=_safe_errors(exc)), cid) from exc


class _WithCid(Exception):
    def __init__(self, error: QuanziError, cid: str | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.cid = cid


class Connection:
    """One authenticated socket (an ``app.realtime.ops.Socket`` for the op handlers)."""

    def __init__(self, ws: WebSocket, rt: Runtime, caller: sessions.Bearer, ops: Registry) -> None:
        self.ws = ws
        self.rt = rt
        self.user_id = caller.user.id
        self.session_id = caller.session_id
        self.ops = ops
        self.settings = rt.settings
        self.bucket = Bucket(rt.settings.ws_send_rate_per_s, rt.settings.ws_send_burst)
        self.last_heard = time.monotonic()
        self.last_active_at = caller.user.last_active_at  # business time, as last written
        self.connection_id = uuid.uuid4().hex  # this socket in the presence set
        self._write_lock = asyncio.Lock()

    async def write(self, frame: dict[str, Any]) -> None:
        data = dumps(frame)
        async with self._write_lock:
            await self.ws.send_text(data)

    async def note_activity(self) -> None:
        """``users.last_active_at`` for a socket in use (throttled like HTTP requests)."""
        if auth.activity_due(self.rt, self.user_id, self.last_active_at):
            async with self.rt.sessionmaker() as db:
                await auth.note_activity(db, self.rt, user_id=self.user_id)
            self.last_active_at = self.rt.clock.now()

    async def close(self, code: int, reason: str) -> None:
        async with self._write_lock:
            if self.ws.application_state == WebSocketState.CONNECTED:
                with contextlib.suppress(*_SEND_ERRORS):
                    await self.ws.close(code, reason)

    async def run(self, sub: Subscription) -> None:
        tasks = [
            asyncio.create_task(self.reader(), name="ws-reader"),
            asyncio.create_task(self.pusher(sub), name="ws-pusher"),
            asyncio.create_task(self.heartbeat(), name="ws-heartbeat"),
        ]
        WS_OPEN.inc()
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            WS_OPEN.dec()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for t in done:
            if t.cancelled():
                continue
            exc = t.exception()
            if exc is not None and database_unreachable(exc):
                log.warning("ws_db_unreachable", task=t.get_name(), error=repr(exc)[:200])
                await self.close(CLOSE_TRY_AGAIN, "database unavailable: reconnect shortly")
            elif exc is not None and not isinstance(exc, _SEND_ERRORS):
                log.error("ws_task_failed", task=t.get_name(), error=repr(exc))

    # -- the three tasks --------------------------------------------------------------

    async def reader(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            self.last_heard = time.monotonic()
            text = message.get("text")
            if text is None:
                await self.write(
                    error_frame(ValidationFailed("binary frames are not supported; send JSON text"))
                )
                continue
            await self.handle(text)
            if self.ws.application_state != WebSocketState.CONNECTED:
                return  # the frame's handling closed the connection

    async def pusher(self, sub: Subscription) -> None:
        order = InOrder(self.settings.ws_gap_wait_s)
        while True:
            deadline = order.next_deadline()
            if deadline is None:
                frame: dict[str, Any] | None = await sub.get()
            else:
                try:
                    # Transport timing on real time, like the heartbeat.
                    frame = await asyncio.wait_for(sub.get(), max(0.0, deadline - time.monotonic()))
                except TimeoutError:
                    frame = None
            if sub.overflowed:
                await self.close(CLOSE_TRY_AGAIN, "fell behind: reconnect and sync")
                return
            if frame is not None and "_control" in frame:
                if self._ends_here(frame):
                    await self.close(CLOSE_UNAUTHENTICATED, "session ended")
                    return
                continue
            now = time.monotonic()
            for out in order.push(frame, now) if frame is not None else ():
                await self.write(out)
            for gap in order.due(now):
                for out in order.filled(gap, await self._fetch_gap(gap)):
                    await self.write(out)

    def _ends_here(self, control: dict[str, Any]) -> bool:
        return (
            control.get("_control") == sessions.SESSION_ENDED
            and self.session_id is not None
            and control.get("session_id") == self.session_id
        )

    async def _fetch_gap(self, gap: Gap) -> list[dict[str, Any]]:
        """The messages of a gap in this connection's pushes (none without a gap filler)."""
        if self.ops.fill_gap is None:
            return []
        return await self.ops.fill_gap(self.rt, self.user_id, gap)

    async def heartbeat(self) -> None:
        interval = self.settings.ws_heartbeat_s
        limit = interval * self.settings.ws_heartbeat_misses
        while True:
            # Transport keep-alive runs on real time, not on the business clock.
            await asyncio.sleep(interval)
            await presence.refresh(self.rt, self.user_id, self.connection_id)
            silent = time.monotonic() - self.last_heard
            if silent >= limit:
                await self.close(CLOSE_HEARTBEAT, "heartbeat timeout")
                return
            if silent >= interval * 0.9:
                await self.write({"op": "ping"})

    # -- frames -----------------------------------------------------------------------

    async def handle(self, text: str) -> None:
        cid: str | None = None
        try:
            try:
                op, frame, cid = parse_frame(text, self.settings.ws_max_frame_bytes, self.ops)
            except _WithCid as wrapped:
                cid = wrapped.cid
                raise wrapped.error from None
            if op.metered:
                self.bucket.take()
            await self.note_activity()
            await op.handle(self, frame)
        except QuanziError as exc:
            await self.write(error_frame(exc, cid))
        except _SEND_ERRORS:
            raise
        except Exception as exc:
            if database_unreachable(exc):
                log.warning("ws_db_unreachable", user_id=self.user_id, error=repr(exc)[:200])
                await self.write(error_frame(Unavailable(), cid))
                await self.close(CLOSE_TRY_AGAIN, "database unavailable: reconnect shortly")
                return
            log.exception("ws_frame_failed", user_id=self.user_id)
            await self.write(
                {
                    "op": "error",
                    "cid": cid,
                    "code": "internal_error",
                    "message": "internal error",
                    "details": {},
                }
            )


async def authenticate(ws: WebSocket, rt: Runtime, token: str | None) -> sessions.Bearer | None:
    """The caller behind the handshake's token or the first frame's (its session open);
    on failure an error frame is sent, the socket closed (4401), and None returned."""
    try:
        if token is None:
            token = await _first_frame_token(ws, rt)
            if token is None:
                return None
        async with rt.sessionmaker() as db:
            return await sessions.authenticate(db, rt, token)
    except QuanziError as exc:
        with contextlib.suppress(*_SEND_ERRORS):
            await ws.send_text(dumps(error_frame(exc)))
            await ws.close(CLOSE_UNAUTHENTICATED, exc.code)
        return None
    except Exception as exc:
        if not database_unreachable(exc):
            raise
        log.warning("ws_db_unreachable", error=repr(exc)[:200])
        with contextlib.suppress(*_SEND_ERRORS):
            await ws.send_text(dumps(error_frame(Unavailable())))
            await ws.close(CLOSE_TRY_AGAIN, "database unavailable: reconnect shortly")
        return None


async def _first_frame_token(ws: WebSocket, rt: Runtime) -> str | None:
    try:
        message = await asyncio.wait_for(ws.receive(), timeout=rt.settings.ws_auth_timeout_s)
    except TimeoutError:
        raise Unauthenticated('no credentials: pass ?token= or send {"op":"auth","token":…} first') from None
    if message["type"] == "websocket.disconnect":
        return None
    text = message.get("text") or ""
    if len(text) > 8192 or json_has_nul(text):
        raise Unauthenticated("the first frame must be an auth frame")
    try:
        return _auth_frame.validate_json(text).token
    except ValidationError:
        raise Unauthenticated('the first frame must be {"op":"auth","token":…}') from None


def _handshake_token(ws: WebSocket) -> str | None:
    token = ws.query_params.get("token")
    if token:
        return token
    scheme, _, value = ws.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def serve(ws: WebSocket, rt: Runtime) -> None:
    """Run one client connection from handshake to close."""
    await ws.accept()
    WS_CONNECTIONS.inc()
    caller = await authenticate(ws, rt, _handshake_token(ws))
    if caller is None:
        return
    user_id = caller.user.id
    acting_user.set(user_id)  # this socket's writes are the user's own (app/replicas.py)
    conn = Connection(ws, rt, caller, registry())
    await conn.note_activity()
    async with rt.hub.subscribe([user_channel(user_id)]) as sub:
        # Subscribed before "ready": whatever is published from here on reaches this device.
        await presence.connected(rt, user_id, conn.connection_id)
        try:
            with contextlib.suppress(*_SEND_ERRORS):
                await conn.write(
                    {
                        "op": "ready",
                        "user_id": user_id,
                        "heartbeat_s": rt.settings.ws_heartbeat_s,
                        "max_frame_bytes": rt.settings.ws_max_frame_bytes,
                    }
                )
                await conn.run(sub)
        finally:
            with contextlib.suppress(RedisError, OSError):  # lapses by itself after a few heartbeats
                await presence.disconnected(rt, user_id, conn.connection_id)
    await conn.close(1000, "bye")


async def relay(ws: WebSocket, rt: Runtime, room: str) -> None:
    """Dev/test baseline for benchmarks: the same socket stack and hub, no auth, no storage.

    A ``send`` frame is acknowledged and published to everyone in ``room`` as a message."""
    await ws.accept()
    channel = f"relay:{room}"
    lock = asyncio.Lock()

    async def write(frame: dict[str, Any]) -> None:
        data = dumps(frame)
        async with lock:
            await ws.send_text(data)

    async with rt.hub.subscribe([channel]) as sub:

        async def pump() -> None:
            while True:
                await write(await sub.get())

        pusher = asyncio.create_task(pump())
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                try:
                    data = json.loads(message.get("text") or "")
                except ValueError:
                    continue
                if not isinstance(data, dict) or data.get("op") != "send":
                    continue
                await rt.hub.publish(
                    channel,
                    {
                        "op": "message",
                        "conversation_id": room,
                        "cid": data.get("cid"),
                        "body": data.get("body"),
                    },
                )
                await write({"op": "ack", "cid": data.get("cid"), "conversation_id": room})
        except _SEND_ERRORS:
            return
        finally:
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError, *_SEND_ERRORS):
                await pusher
