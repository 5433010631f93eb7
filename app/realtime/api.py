"""WebSocket routes: the realtime channel ``/v1/ws`` and, in dev/test only, a bare relay.

The frames are documented in ``docs/protocol.md``; the connection logic lives in
``app.realtime.gateway``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, WebSocket
from starlette.responses import JSONResponse

from app.errors import NotFound
from app.realtime import gateway
from app.runtime import Runtime

router = APIRouter(tags=["realtime"])
dev_router = APIRouter(tags=["realtime"])  # dev/test only: not mounted in prod


def _runtime(ws: WebSocket) -> Runtime:
    return ws.app.state.rt  # type: ignore[no-any-return]


@router.websocket("/v1/ws")
async def ws_endpoint(websocket: WebSocket) -> None:
    """The realtime channel. Auth: ``?token=`` or a first frame ``{"op":"auth","token":…}``."""
    await gateway.serve(websocket, _runtime(websocket))


@dev_router.websocket("/v1/dev/ws-relay")
async def ws_relay(websocket: WebSocket, room: Annotated[str, Query(max_length=64)] = "lobby") -> None:
    """Dev/test only (absent in prod): the benchmark's baseline relay, no auth and no storage."""
    rt = _runtime(websocket)
    if not rt.settings.is_dev:
        await websocket.send_denial_response(JSONResponse(NotFound().body(), status_code=404))
        return
    await gateway.relay(websocket, rt, room)
