"""Bank events: spending batches, stored once per ``event_id``, then handed to listeners.

``ingest_spending`` stores each new event of a known user (a replayed ``event_id`` is a
no-op) and raises the "spending recorded" hook (``app.hooks.on_spending_recorded``) with
the new ones, in the same transaction; the games' energy engine listens there
(``games/energy``). What each event earned is kept on its row (``energy_g``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import hooks
from app.auth import service as auth
from app.db import transaction
from app.events.models import SpendingEvent
from app.events.schemas import SpendingEventIn
from app.runtime import Runtime


@dataclass
class Ingested:
    """What became of a batch of spending events."""

    received: int
    duplicates: int
    accepted: int = 0  # new events stored
    unknown_user: int = 0  # not a Quanzi user: ignored and counted
    energy_balls: int = 0  # what the listeners made of the new events (``app.hooks.SpendingEffects``)
    energy_g: int = 0
    unknown_category: int = 0
    no_energy: int = 0


async def ingest_spending(db: AsyncSession, rt: Runtime, *, events: list[SpendingEventIn]) -> Ingested:
    """Store the new spending events and let the listeners reward them, in one transaction."""
    async with transaction(db):
        return await record_spending(db, rt, events=events)


async def record_spending(db: AsyncSession, rt: Runtime, *, events: list[SpendingEventIn]) -> Ingested:
    """``ingest_spending`` inside the caller's unit of work (flushes, never commits): for a
    feature whose own use case is a card payment (a captured campaign payment, whose
    ``payment_id`` is its ``event_id``), so the energy and points of a payment are earned
    exactly once, by the same path as the bank's events."""
    now = rt.clock.now()
    # One event per id within the batch too (first wins).
    unique: dict[str, SpendingEventIn] = {}
    for e in events:
        unique.setdefault(e.event_id, e)
    result = Ingested(received=len(events), duplicates=len(events) - len(unique))
    existing_users = set(await auth.profiles(db, {e.user_id for e in unique.values()}))
    rows = []
    for e in unique.values():
        if e.user_id not in existing_users:
            result.unknown_user += 1
            continue
        rows.append(
            {
                "event_id": e.event_id,
                "user_id": e.user_id,
                "category": e.category,
                "amount_fen": e.amount_fen,
                "occurred_at": e.occurred_at,
                "received_at": now,
                "energy_g": 0,
            }
        )
    if not rows:
        return result
    inserted = set(
        (
            await db.execute(
                insert(SpendingEvent).values(rows).on_conflict_do_nothing().returning(SpendingEvent.event_id)
            )
        ).scalars()
    )
    result.duplicates += len(rows) - len(inserted)
    result.accepted = len(inserted)
    new = sorted(
        (
            hooks.Spending(
                event_id=e.event_id,
                user_id=e.user_id,
                category=e.category,
                amount_fen=e.amount_fen,
                occurred_at=e.occurred_at,
            )
            for e in unique.values()
            if e.event_id in inserted
        ),
        key=lambda s: (s.occurred_at, s.event_id),
    )
    effects = await hooks.fire_spending(db, rt, new)
    by_amount: dict[int, list[str]] = defaultdict(list)
    for event_id, earned in effects.reward_by_event.items():
        by_amount[earned].append(event_id)
    for earned, event_ids in by_amount.items():
        await db.execute(
            update(SpendingEvent).where(col(SpendingEvent.event_id).in_(event_ids)).values(energy_g=earned)
        )
    result.energy_balls = effects.items_made
    result.energy_g = sum(effects.reward_by_event.values())
    result.unknown_category = effects.unknown_category
    result.no_energy = effects.unrewarded
    return result


async def spend_of(db: AsyncSession, *, user_ids: list[str], start: datetime, end: datetime) -> int:
    """What these members spent by card in ``[start, end)`` (every recorded spending
    event, the bank's and captured card payments'; refunds are not subtracted)."""
    if not user_ids:
        return 0
    total = await db.scalar(
        select(func.coalesce(func.sum(SpendingEvent.amount_fen), 0)).where(
            col(SpendingEvent.user_id).in_(user_ids),
            SpendingEvent.occurred_at >= start,
            SpendingEvent.occurred_at < end,
        )
    )
    return int(total or 0)


def spending_totals(
    since: datetime, until: datetime, categories: Sequence[str], user_id: str | None = None
) -> Select[Any]:
    """Card spending per member and category in ``[since, until]`` as ``(user_id,
    category, amount)``, a category not in ``categories`` counted as ``other``: a
    selectable for set-based statements (the nightly insights job)."""
    category = case(
        (col(SpendingEvent.category).in_(list(categories)), SpendingEvent.category), else_="other"
    )
    q = (
        select(
            SpendingEvent.user_id,
            category.label("category"),
            func.sum(SpendingEvent.amount_fen).label("amount"),
        )
        .where(SpendingEvent.occurred_at >= since, SpendingEvent.occurred_at <= until)
        .group_by(SpendingEvent.user_id, category)
    )
    if user_id is not None:
        q = q.where(SpendingEvent.user_id == user_id)
    return q
