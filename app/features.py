"""The feature folders that make up the service, in dependency order.

Each feature is a package that may hold, by convention:

- ``models.py``: its SQLModel tables (imported so Alembic and the metadata see them);
- ``api.py`` with ``router``: its REST/WebSocket routes;
- ``seed.py`` with ``async def seed(ctx)``: its part of the demo data;
- ``jobs.py`` with ``JOBS``: periodic background jobs (``Job``) the service runs;
- ``hooks.py``: imported at start-up to register ``app.hooks`` callbacks;
- ``console.py`` with ``router``: its staff console pages (``app.console.web``).

Adding a feature is adding its name here.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

FEATURES: tuple[str, ...] = (
    "app.auth",
    "app.ledger",
    "app.idempotency",
    "app.wallet",
    "app.notifications",
    "app.ops",
    "app.devtools",
    "social.friends",
    "social.contacts",
    "social.referrals",
    "social.advisors",
    "social.chat",
    "social.transfers",
    "social.red_packets",
    "app.realtime",
    "app.events",
    "games.forest",
    "games.farm",
    "games.quiz",
    "games.leaderboards",
    "content.media",
    "content.posts",
    "content.feed",
    "content.moderation",
    "app.console",
)


@dataclass(frozen=True)
class Job:
    """A periodic job: ``run(rt)`` every ``interval_s`` seconds on every worker.

    Jobs must be safe to run on several workers at once (row locks or conditional
    updates), since every worker runs them.
    """

    name: str
    interval_s: float
    run: Callable[[Any], Awaitable[Any]]


def _optional(feature: str, part: str) -> ModuleType | None:
    name = f"{feature}.{part}"
    if importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)


def modules(part: str) -> Iterator[tuple[str, ModuleType]]:
    for feature in FEATURES:
        module = _optional(feature, part)
        if module is not None:
            yield feature, module


def import_models() -> None:
    """Import every feature's tables and hook registrations (app, CLI, migrations)."""
    for _ in modules("models"):
        pass
    for _ in modules("hooks"):
        pass


def routers() -> list[Any]:
    return [m.router for part in ("api", "console") for _, m in modules(part)]


def seeders() -> list[tuple[str, Callable[[Any], Awaitable[None]]]]:
    return [(name, m.seed) for name, m in modules("seed")]


def jobs() -> list[Job]:
    return [job for _, m in modules("jobs") for job in m.JOBS]
