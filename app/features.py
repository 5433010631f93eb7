"""The feature folders that make up the service, in dependency order.

This module is how the platform (``app/``) reaches features without importing them: it
loads each listed package's parts by name. Each feature is a package that may hold, by
convention:

- ``models.py``: its SQLModel tables (imported so Alembic and the metadata see them);
- ``api.py`` with ``router``: its REST/WebSocket routes, and ``dev_router``: routes that
  exist only with ``QUANZI_ENV=dev|test`` (absent in prod, also from the OpenAPI schema);
- ``ws.py`` with ``OPS`` (``app.realtime.ops.WsOp``): the WebSocket frames it handles, and
  optionally ``fill_gap`` (``app.realtime.ops.GapFill``): how a connection fetches the
  messages it missed between two pushes;
- ``seed.py`` with ``async def seed(ctx)``: its part of the demo data (in this order);
- ``jobs.py`` with ``JOBS``: periodic jobs (``Job``), run once per deployment
  (``app/scheduler``);
- ``cli.py`` with ``cli`` (a ``typer.Typer``) and ``NAME``: a ``quanzi NAME …`` command group;
- ``hooks.py``: imported at start-up to register ``app.hooks`` callbacks;
- ``startup.py`` with ``async def on_startup(rt)``: run by each worker once it serves a
  migrated database, e.g. rebuild from SQL what the feature keeps only in Redis when Redis
  came up empty (in this order; it must be safe to run on several workers at once);
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
    "app.push",
    "app.ops",
    "app.devtools",
    "app.scheduler",
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
    "games.energy",
    "games.points",
    "games.campaigns",
    "games.rights",
    "content.media",
    "content.products",
    "content.posts",
    "content.feed",
    "content.moderation",
    "app.profile",
    "app.insights",
    "app.audiences",
    "app.offers",
    "app.console",
)


@dataclass(frozen=True)
class Job:
    """A periodic job: ``run(rt)`` every ``interval_s`` seconds of business time, by one
    worker of the deployment at a time (``app.scheduler.runner``).

    A job should still decide each item by a conditional update (a refund happens once),
    since ``POST /v1/dev/clock`` and a slow run on another worker may meet an item twice.
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


def routers(*, dev: bool = False) -> list[Any]:
    """Every feature's router, and with ``dev`` its dev/test-only router too."""
    found = []
    for _, m in modules("api"):
        if hasattr(m, "router"):
            found.append(m.router)
        if dev and hasattr(m, "dev_router"):
            found.append(m.dev_router)
    found += [m.router for _, m in modules("console")]
    return found


def seeders() -> list[tuple[str, Callable[[Any], Awaitable[None]]]]:
    return [(name, m.seed) for name, m in modules("seed")]


def startups() -> list[tuple[str, Callable[[Any], Awaitable[None]]]]:
    """(feature, on_startup) of every feature with a start-up hook."""
    return [(name, m.on_startup) for name, m in modules("startup")]


def jobs() -> list[Job]:
    return [job for _, m in modules("jobs") for job in m.JOBS]


def commands() -> list[tuple[str, Any]]:
    """(name, typer app) of every feature's command group."""
    return [(m.NAME, m.cli) for _, m in modules("cli")]


def ws_modules() -> list[ModuleType]:
    """The features' ``ws.py`` modules (WebSocket ops and gap fillers)."""
    return [m for _, m in modules("ws")]
