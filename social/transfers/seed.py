"""Demo: a transfer from Wang Wei waiting for Li Na to accept, in their direct chat."""

from __future__ import annotations

from app.db import transaction
from app.seed import SeedContext
from social.transfers import service as transfers


async def seed(ctx: SeedContext) -> None:
    if not ctx.first_run:
        return
    rt = ctx.rt
    async with rt.sessionmaker() as db, transaction(db):
        await transfers.create_transfer(
            db,
            rt,
            sender_id=ctx.users["wangwei"].id,
            to_user_id=ctx.users["lina"].id,
            amount_fen=5_200,
            note="上次的午饭钱 lunch last week",
        )
