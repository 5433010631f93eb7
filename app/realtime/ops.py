"""WebSocket ops: what each client frame does, registered by the feature that owns it.

The gateway (``app/realtime/gateway.py``) knows the transport — authentication, the
heartbeat, rate limits, error frames, in-order pushes — and the built-in ops ``auth``,
``ping`` and ``pong``. Every other op comes from a feature's ``ws.py`` (listed through
``app.features``)::

    OPS = [WsOp("send", SendFrame, handle_send), WsOp("sync", SyncFrame, handle_sync)]

``frame`` is the pydantic model a frame of that op must validate against (its ``op``
field a ``Literal``); ``handle(socket, frame)`` runs it and answers through
``socket.write``; a domain error it raises becomes an ``error`` frame and the connection
stays open. ``metered`` ops spend from the connection's rate bucket (they cost a
database round trip).

A feature lists the frames it sends to clients as ``SERVER_FRAMES`` (pydantic models, an
``op`` ``Literal`` each): with ``OPS`` they are the protocol's description, docs/asyncapi.yaml
(``app/realtime/asyncapi.py``).

A feature that pushes ordered ``message`` frames may also give ``fill_gap``: how a
connection fetches the messages between two pushes it received out of order
(``app/realtime/ordering.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from pydantic import BaseModel, TypeAdapter

from app.realtime.ordering import Gap
from app.runtime import Runtime

Frame = dict[str, Any]


class Socket(Protocol):
    """What an op handler sees of its connection."""

    rt: Runtime
    user_id: str
    session_id: str | None

    async def write(self, frame: Frame) -> None: ...


Handler = Callable[[Any, Any], Awaitable[None]]  # (Socket, the validated frame)
GapFill = Callable[[Runtime, str, Gap], Awaitable[list[Frame]]]  # (rt, user_id, gap) → message frames


@dataclass(frozen=True)
class WsOp:
    op: str
    frame: type[BaseModel]
    handle: Handler
    metered: bool = True

    @property
    def adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.frame)


class Registry:
    """The ops one gateway serves, by name, and the gap filler for ordered pushes."""

    def __init__(
        self,
        ops: Iterable[WsOp],
        fill_gap: GapFill | None = None,
        server_frames: Iterable[type[BaseModel]] = (),
    ) -> None:
        self.ops: dict[str, WsOp] = {}
        self.server_frames = list(server_frames)
        self.adapters: dict[str, TypeAdapter[Any]] = {}
        for op in ops:
            if op.op in self.ops:
                raise ValueError(f"WebSocket op {op.op!r} registered twice")
            self.ops[op.op] = op
            self.adapters[op.op] = op.adapter
        self.fill_gap = fill_gap

    @classmethod
    def from_modules(
        cls,
        modules: Iterable[ModuleType],
        builtin: Iterable[WsOp] = (),
        builtin_server_frames: Iterable[type[BaseModel]] = (),
    ) -> Registry:
        ops = list(builtin)
        server_frames = list(builtin_server_frames)
        fill: GapFill | None = None
        for m in modules:
            ops.extend(getattr(m, "OPS", ()))
            server_frames.extend(getattr(m, "SERVER_FRAMES", ()))
            found = getattr(m, "fill_gap", None)
            if found is not None:
                if fill is not None:
                    raise ValueError("only one feature may fill message gaps")
                fill = found
        return cls(ops, fill, server_frames)

    @property
    def names(self) -> list[str]:
        return list(self.ops)
