"""Demo: Li Na's advisor is Liu Yang (the "advisor" demo user), who has said hello.

Everyone else who holds a card is assigned by the matcher.
"""

from __future__ import annotations

from app.db import transaction
from app.seed import SeedContext
from social.advisors import service as advisors
from social.chat import service as chat


async def seed(ctx: SeedContext) -> None:
    if not ctx.first_run:
        return
    rt = ctx.rt
    lina, advisor = ctx.users["lina"], ctx.users["advisor"]
    async with rt.sessionmaker() as db:
        await advisors.assign(db, rt, client_id=lina.id, advisor_id=advisor.id)
        await advisors.match(db, rt)
        mine = await advisors.my_advisor(db, rt, user_id=lina.id)
        async with transaction(db):
            await chat.post_message(
                db,
                rt,
                conversation_id=mine.conversation_id,
                sender_id=advisor.id,
                kind=chat.MessageKind.TEXT,
                body={"text": "李女士您好，我是您的理财经理刘洋，有任何理财问题随时找我。"},
            )
