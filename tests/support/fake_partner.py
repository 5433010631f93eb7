"""A partner programme's exchange endpoint on a loopback port, scripted per test.

``async with fake_partner() as partner:`` serves ``POST /exchanges`` with uvicorn in the
test's event loop. Each request takes the next behaviour from ``partner.script``
(default ``ok``):

- ``ok``: book it (once per idempotency key) and confirm with the booking's ref;
- ``slow``: book it, then answer only after ``partner.slow_s`` (past the client's timeout);
- ``fail``: answer 503 without booking;
- ``refuse``: answer 422 ``{"status": "refused", "reason": "unknown_member"}``.

A key booked before is answered with the same confirmation again (the duplicate answer
a retry gets when its first try did land). ``partner.booked`` maps key → amount booked.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class FakePartner:
    url: str = ""
    script: list[str] = field(default_factory=list)
    slow_s: float = 1.0
    booked: dict[str, int] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: Request) -> JSONResponse:
        body = await request.json()
        key = request.headers["idempotency-key"]
        assert key == body["key"]
        self.calls.append(body)
        mode = self.script.pop(0) if self.script else "ok"
        if mode == "fail":
            return JSONResponse({"error": "busy"}, status_code=503)
        if mode == "refuse":
            return JSONResponse({"status": "refused", "reason": "unknown_member"}, status_code=422)
        self.booked.setdefault(key, body["amount"])
        if mode == "slow":
            await asyncio.sleep(self.slow_s)
        return JSONResponse({"status": "confirmed", "ref": f"P-{key}"})


@contextlib.asynccontextmanager
async def fake_partner() -> AsyncIterator[FakePartner]:
    partner = FakePartner()
    app = Starlette(routes=[Route("/exchanges", partner.handle, methods=["POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    partner.url = f"http://127.0.0.1:{port}"
    try:
        yield partner
    finally:
        server.should_exit = True
        await task
        sock.close()
