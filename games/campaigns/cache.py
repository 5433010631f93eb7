"""The active campaigns, held in each worker's memory so a quote evaluates them without I/O.

A worker loads the campaigns that are scheduled and not over (``Catalogue``) and keeps
them until a campaign changes: every change bumps a version key in Redis
(``gate.version_key``) after its commit, and a worker looks at that key at most every
``CHECK_EVERY_S`` wall seconds (and at once after a change of its own). A campaign paused
on another worker may thus still be offered for that long, but never granted:
``campaign_hold`` checks the status in PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlmodel import col

from app.runtime import Runtime, Slot
from games.campaigns import gate
from games.campaigns.models import Campaign, CampaignStatus
from games.campaigns.rules import Catalogue, DiscountKind, Per, Rule

CHECK_EVERY_S = 1.0


def compile_rule(c: Campaign) -> Rule:
    return Rule(
        id=c.id,
        name=c.name,
        kind=DiscountKind(c.kind),
        min_amount_fen=c.min_amount_fen,
        discount_fen=c.discount_fen,
        rate_bp=c.rate_bp,
        cap_fen=c.cap_fen,
        min_discount_fen=c.min_discount_fen,
        max_discount_fen=c.max_discount_fen,
        card_products=frozenset(c.card_products),
        mccs=frozenset(c.mccs),
        merchant_ids=frozenset(c.merchant_ids),
        channels=frozenset(c.channels),
        days_of_week=frozenset(c.days_of_week),
        time_windows=tuple((int(w[0]), int(w[1])) for w in c.time_windows),
        starts_at=c.starts_at,
        ends_at=c.ends_at,
        per=Per(c.per),
        total_budget_fen=c.total_budget_fen,
        daily_budget_fen=c.daily_budget_fen,
        hold_s=c.hold_s,
        description=c.description,
        audience_id=c.audience_id,
    )


@dataclass
class ActiveCampaigns:
    catalogue: Catalogue = field(default_factory=Catalogue)
    version: str | None = None
    checked_at: float = 0.0  # monotonic
    loaded: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


ACTIVE: Slot[ActiveCampaigns] = Slot("campaigns.active", lambda rt: ActiveCampaigns())


async def _load(rt: Runtime) -> Catalogue:
    now = rt.clock.now()
    async with rt.sessionmaker() as db:
        rows = (
            await db.execute(
                select(Campaign).where(
                    col(Campaign.status) == CampaignStatus.SCHEDULED, col(Campaign.ends_at) > now
                )
            )
        ).scalars()
        return Catalogue.of(compile_rule(c) for c in rows)


async def catalogue(rt: Runtime) -> Catalogue:
    """This worker's active campaigns, reloaded when the version key moved."""
    active = rt.slot(ACTIVE)
    if active.loaded and time.monotonic() - active.checked_at < CHECK_EVERY_S:
        return active.catalogue
    async with active.lock:
        if active.loaded and time.monotonic() - active.checked_at < CHECK_EVERY_S:
            return active.catalogue
        version = await rt.redis.get(gate.version_key(rt))
        if not active.loaded or (str(version) if version is not None else None) != active.version:
            active.catalogue = await _load(rt)
            active.version = str(version) if version is not None else None
            active.loaded = True
        active.checked_at = time.monotonic()
    return active.catalogue


async def changed(rt: Runtime) -> None:
    """A campaign changed (after its commit): every worker reloads."""
    await rt.redis.incr(gate.version_key(rt))
    rt.slot(ACTIVE).loaded = False
