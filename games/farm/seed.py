"""Demo farm: Li Na's chicken is eating, Wang Wei's chicken is visiting her bowl."""

from __future__ import annotations

from app.db import transaction
from app.seed import SeedContext
from games.farm import service as farm


async def seed(ctx: SeedContext) -> None:
    if not ctx.first_run:
        return
    rt = ctx.rt
    lina, wang = ctx.users["lina"].id, ctx.users["wangwei"].id
    async with rt.sessionmaker() as db:
        async with transaction(db):
            await farm.add_feed(db, rt, user_id=lina, grams=540)
            await farm.add_feed(db, rt, user_id=wang, grams=180)
        await farm.feed(db, rt, user_id=lina)
        await farm.visit(db, rt, user_id=wang, host_id=lina)
