"""Demo: Li Na (30, about 180 000 yuan, C3) consents to her wallet and investments, and
sees her cohort; 400 synthetic members (``app.insights.synthetic``) make the cohorts."""

from __future__ import annotations

import random

from app.db import transaction
from app.insights import service as insights
from app.insights.schemas import MemberAttributesIn
from app.insights.synthetic import populate
from app.profile import service as profile
from app.profile.schemas import ConsentChange
from app.seed import SeedContext


async def seed(ctx: SeedContext) -> None:
    if not ctx.first_run:
        return
    rt = ctx.rt
    lina = ctx.users["lina"].id
    now = rt.clock.now()
    async with rt.sessionmaker() as db:
        await insights.set_attributes(
            db,
            rt,
            members=[
                MemberAttributesIn(
                    user_id=lina,
                    birth_year=now.year - 30,
                    assets_fen=18_000_000,
                    allocation={"deposits": 4000, "bonds": 2000, "funds": 3000, "stocks": 1000},
                )
            ],
        )
        await profile.set_consents(
            db,
            rt,
            user_id=lina,
            changes=[
                ConsentChange(scenario="wallet", granted=True),
                ConsentChange(scenario="investments", granted=True),
            ],
        )
        async with transaction(db):
            await populate(db, n=400, now=now, prefix="u_demo_like")
    await insights.compute(rt, rng=random.Random())
