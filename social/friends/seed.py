"""Demo: the demo people's friendships (Li Na and her three friends, and theirs)."""

from __future__ import annotations

from app.db import transaction
from app.seed import SeedContext
from social.friends import service as friends

FRIENDS = [
    ("lina", "wangwei"),
    ("lina", "zhangmin"),
    ("lina", "chenjie"),
    ("wangwei", "zhangmin"),
    ("zhangmin", "chenjie"),
]


async def seed(ctx: SeedContext) -> None:
    if not ctx.first_run:
        return
    rt = ctx.rt
    async with rt.sessionmaker() as db, transaction(db):
        now = rt.clock.now()
        for a, b in FRIENDS:
            await friends.make_friends(db, ctx.users[a].id, ctx.users[b].id, now=now)
