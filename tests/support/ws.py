"""A small WebSocket test client for ``/v1/ws`` on a real server (the ``websockets`` library).

``async with ws_connect(server, person) as c:`` connects with ``?token=`` and waits for
the ``ready`` frame (so the hub subscription is live). ``await c.expect("ack", cid="x")``
returns the first frame with that op and fields, keeping the frames it skipped for later
``expect`` calls; ``await c.frames_for(seconds)`` collects what arrives in a while.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import websockets

from tests.support.people import Person
from tests.support.servers import Server


class WsClient:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.buffer: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    async def recv(self, wait_s: float = 5.0) -> dict[str, Any]:
        if self.buffer:
            return self.buffer.pop(0)
        with anyio.fail_after(wait_s):
            return json.loads(await self.ws.recv())  # type: ignore[no-any-return]

    async def expect(self, op: str, wait_s: float = 5.0, **fields: Any) -> dict[str, Any]:
        def matches(f: dict[str, Any]) -> bool:
            return f.get("op") == op and all(f.get(k) == v for k, v in fields.items())

        for i, f in enumerate(self.buffer):
            if matches(f):
                return self.buffer.pop(i)
        with anyio.fail_after(wait_s):
            while True:
                f = json.loads(await self.ws.recv())
                if matches(f):
                    return f  # type: ignore[no-any-return]
                self.buffer.append(f)

    async def frames_for(self, seconds: float) -> list[dict[str, Any]]:
        out, self.buffer = self.buffer, []
        with anyio.move_on_after(seconds):
            while True:
                out.append(json.loads(await self.ws.recv()))
        return out

    async def roundtrip(self) -> None:
        """A ping answered with a pong: the connection is open and usable."""
        await self.send({"op": "ping"})
        await self.expect("pong")


def ws_url(server: Server, token: str | None = None) -> str:
    return f"{server.ws_url}/v1/ws" + (f"?token={token}" if token is not None else "")


@contextlib.asynccontextmanager
async def ws_connect(
    server: Server, person: Person | None = None, *, token: str | None = None
) -> AsyncIterator[WsClient]:
    async with websockets.connect(
        ws_url(server, token or (person.token if person else None)), max_size=None
    ) as ws:
        client = WsClient(ws)
        await client.expect("ready")
        yield client
