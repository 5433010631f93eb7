"""The boards the service serves, and how each is rebuilt from the database.

A feature registers its board with ``register_board(name, rebuild=fn)``, where
``await fn(rt)`` returns ``{user_id: {"day": score, "week": score, "all": score}}`` for the
current day and week buckets (a period left out means 0). Content registers
``creators`` from its own package (``content/.../hooks.py``); until then it is served
as an empty board.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from app.runtime import Runtime

Scores = dict[str, dict[str, float]]
RebuildFn = Callable[[Runtime], Awaitable[Scores]]


async def _empty(rt: Runtime) -> Scores:
    return {}


@dataclass(frozen=True)
class Board:
    name: str
    rebuild: RebuildFn


BOARDS: dict[str, Board] = {}


def register_board(name: str, *, rebuild: RebuildFn | None = None, replace: bool = True) -> Board:
    """Serve ``name``; ``rebuild`` recomputes its current scores from the database."""
    if not replace and name in BOARDS:
        return BOARDS[name]
    board = Board(name=name, rebuild=rebuild or _empty)
    BOARDS[name] = board
    return board


def get_board(name: str) -> Board | None:
    return BOARDS.get(name)


# Content's board, empty until content registers its rebuild function.
register_board("creators", replace=False)
