"""Demo offer: watching 间谍过家家 Spy Family on the video partner earns a coupon for its
merchandise on the shopping partner; Li Na (consented to both) watches another episode
and receives it (``GET /v1/me/offers``, and in her message center)."""

from __future__ import annotations

from app.offers import service as offers
from app.offers.schemas import OfferRuleCreate
from app.profile import service as profile
from app.profile.schemas import ScenarioEventIn
from app.seed import SeedContext


async def seed(ctx: SeedContext) -> None:
    if not ctx.first_run:
        return
    rt = ctx.rt
    async with rt.sessionmaker() as db:
        await offers.create_rule(
            db,
            rt,
            admin_id=ctx.users["admin"].id,
            body=OfferRuleCreate(
                name="Spy Family → 周边",
                scenario="video",
                event_type="watched",
                match={"series": "间谍过家家 Spy Family"},
                offer_scenario="shopping",
                title="阿尼亚手办 8 折 · 20% off Anya figures",
                body="For watching 间谍过家家 Spy Family: 20% off its merchandise on the shopping partner.",
                code="SPYFAMILY20",
                valid_days=30,
            ),
        )
        await profile.ingest_events(
            db,
            rt,
            events=[
                ScenarioEventIn(
                    event_id="demo-video-offer",
                    user_id=ctx.users["lina"].id,
                    scenario="video",
                    type="watched",
                    attributes={"series": "间谍过家家 Spy Family", "genre": "anime", "minutes": 24},
                    occurred_at=rt.clock.now(),
                )
            ],
        )
