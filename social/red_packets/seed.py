"""Demo: a red packet from Wang Wei in his direct chat with Li Na, still there to grab."""

from __future__ import annotations

from app.db import transaction
from app.seed import SeedContext
from social.chat import service as chat
from social.red_packets import service as red_packets


async def seed(ctx: SeedContext) -> None:
    if not ctx.first_run:
        return
    rt = ctx.rt
    wangwei, lina = ctx.users["wangwei"].id, ctx.users["lina"].id
    async with rt.sessionmaker() as db:
        conv = await chat.get_or_create_direct(db, rt, wangwei, lina)
        async with transaction(db):
            await red_packets.create_packet(
                db,
                rt,
                sender_id=wangwei,
                conversation_id=conv.id,
                total_fen=888,
                count=1,
                mode="random",
                greeting="恭喜发财，大吉大利",
            )
