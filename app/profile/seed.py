"""Demo profile: Li Na has consented to the video and shopping partners, her card spending
and content (the video partner shared with her advisor, food delivery not at all), and
holds tags from each, with the reasons ``GET /v1/me/profile`` shows."""

from __future__ import annotations

from datetime import timedelta

from app.db import transaction
from app.profile import service as profile
from app.profile.hooks import SPEND_WHY
from app.profile.schemas import ConsentChange, ScenarioEventIn
from app.seed import SeedContext


async def seed(ctx: SeedContext) -> None:
    if not ctx.first_run:
        return
    rt = ctx.rt
    lina = ctx.users["lina"].id
    now = rt.clock.now()
    async with rt.sessionmaker() as db:
        await profile.set_consents(
            db,
            rt,
            user_id=lina,
            changes=[
                ConsentChange(scenario="video", granted=True, share_with_advisor=True),
                ConsentChange(scenario="shopping", granted=True),
                ConsentChange(scenario="card", granted=True),
                ConsentChange(scenario="content", granted=True),
            ],
        )
        events = [
            ScenarioEventIn(
                event_id=f"demo-video-{n}",
                user_id=lina,
                scenario="video",
                type="watched",
                attributes={"series": "间谍过家家 Spy Family", "genre": "anime", "minutes": 24},
                occurred_at=now - timedelta(days=n),
            )
            for n in range(6)
        ]
        events.append(
            ScenarioEventIn(
                event_id="demo-shopping-1",
                user_id=lina,
                scenario="shopping",
                type="purchased",
                attributes={"category": "anime figures", "item": "阿尼亚手办", "amount_fen": 19_900},
                occurred_at=now - timedelta(days=2),
            )
        )
        events.append(  # food delivery is not consented: dropped, counted, not stored
            ScenarioEventIn(
                event_id="demo-food-1",
                user_id=lina,
                scenario="food_delivery",
                type="ordered",
                attributes={"cuisine": "hotpot"},
                occurred_at=now - timedelta(days=1),
            )
        )
        await profile.ingest_events(db, rt, events=events)
        async with transaction(db):
            await profile.record(
                db,
                rt,
                [
                    profile.Evidence(
                        lina, f"spend:{category}", "card", "paid", SPEND_WHY, now - timedelta(days=d)
                    )
                    for d, category in enumerate(
                        ["transit"] * 8 + ["offline_payment"] * 4 + ["bill_payment"] * 2
                    )
                ],
            )
