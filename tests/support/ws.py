"""A small WebSocket test client for ``/v1/ws`` on a real server (the ``websockets`` library).

``async with ws_connect(server, person) as c:`` connects with ``?token=`` and waits for
the ``ready`` frame (so the hub subscription is live). ``await c.expect("ack", cid="x")``
returns the first frame with that op and fields, keeping the frames it skipped for later
``expect`` calls; ``await c.until("message", seq=9)`` returns what came before such a
frame (a sentinel sent after whatever must not arrive). Nothing listens for a fixed time.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import websockets

from tests.support.people import Person
from tests.support.servers import Server

# How long to wait for a frame that must come: generous, since the machine may be busy;
# a test that passes never waits this long.
WAIT_S = 30.0


def _matcher(op: str, fields: dict[str, Any]) -> Any:
    def matches(f: dict[str, Any]) -> bool:
        return f.get("op") == op and all(f.get(k) == v for k, v in fields.items())

    return matches


class WsClient:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.buffer: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    async def recv(self, wait_s: float = WAIT_S) -> dict[str, Any]:
        if self.buffer:
            return self.buffer.pop(0)
        with anyio.fail_after(wait_s):
            return json.loads(await self.ws.recv())  # type: ignore[no-any-return]

    async def expect(self, op: str, wait_s: float = WAIT_S, **fields: Any) -> dict[str, Any]:
        matches = _matcher(op, fields)
        for i, f in enumerate(self.buffer):
            if matches(f):
                return self.buffer.pop(i)
        with anyio.fail_after(wait_s):
            while True:
                f = json.loads(await self.ws.recv())
                if matches(f):
                    return f  # type: ignore[no-any-return]
                self.buffer.append(f)

    async def until(
        self,
        op: str,
        wait_s: float = WAIT_S,
        where: Callable[[dict[str, Any]], bool] = lambda f: True,
        **fields: Any,
    ) -> list[dict[str, Any]]:
        """Every frame that came before the first with ``op`` and ``fields`` (and ``where``),
        which is taken.

        For "nothing more arrives": make something arrive after it on the same path (a
        sentinel) and check what came before the sentinel, instead of listening a while."""
        has_fields = _matcher(op, fields)

        def matches(f: dict[str, Any]) -> bool:
            return bool(has_fields(f) and where(f))

        for i, f in enumerate(self.buffer):
            if matches(f):
                before, self.buffer = self.buffer[:i], self.buffer[i + 1 :]
                return before
        before, self.buffer = self.buffer, []
        with anyio.fail_after(wait_s):
            while True:
                f = json.loads(await self.ws.recv())
                if matches(f):
                    return before
                before.append(f)

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
