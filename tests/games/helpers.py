"""Shared helpers for game tests: bank events, ripe balls, conservation checks."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from app.runtime import Runtime
from tests.support.clock import DEFAULT_START

_ids = itertools.count(1)


def service_headers(rt: Runtime) -> dict[str, str]:
    return {"Authorization": f"Bearer {rt.settings.service_token}"}


def event(
    user_id: str,
    category: str = "bill_payment",
    amount_fen: int = 5000,
    at: datetime | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    return {
        "event_id": event_id or f"ev-{next(_ids)}",
        "user_id": user_id,
        "amount_fen": amount_fen,
        "category": category,
        "occurred_at": (at or DEFAULT_START).isoformat(),
    }


async def spend(client: Any, rt: Runtime, events: list[dict[str, Any]]) -> dict[str, Any]:
    r = await client.post("/v1/events/spending", json={"events": events}, headers=service_headers(rt))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def ripe_ball(client: Any, rt: Runtime, person: Any, category: str = "bill_payment") -> dict[str, Any]:
    """Give ``person`` one ball from a spending event and ripen it (moves the clock 24 h)."""
    await spend(client, rt, [event(person.id, category, at=rt.clock.now())])
    await rt.advance_clock(24 * 3600 + 1)
    forest = (await client.get("/v1/forest", headers=person.headers)).json()
    ripe = [b for b in forest["balls"] if b["state"] == "ripe"]
    assert ripe, forest
    return ripe[-1]  # type: ignore[no-any-return]


async def assert_energy_conserved(rt: Runtime) -> None:
    """DESIGN invariant 4: collections never exceed balls; accounts hold collected − spent ≥ 0."""
    from games.forest.models import BallCollection, EnergyBall, ForestAccount

    async with rt.sessionmaker() as db:
        for ball in (await db.execute(select(EnergyBall))).scalars():
            taken = await db.scalar(
                select(func.coalesce(func.sum(BallCollection.grams), 0)).where(
                    BallCollection.ball_id == ball.id
                )
            )
            assert taken == ball.amount_g - ball.remaining_g, ball
            assert 0 <= ball.remaining_g <= ball.amount_g
            assert ball.friends_taken_g <= ball.amount_g * ball.share_pct // 100
        for acc in (await db.execute(select(ForestAccount))).scalars():
            got = await db.scalar(
                select(func.coalesce(func.sum(BallCollection.grams), 0)).where(
                    BallCollection.collector_id == acc.user_id
                )
            )
            assert acc.collected_g == got
            assert acc.energy_g == acc.collected_g - acc.spent_g >= 0
