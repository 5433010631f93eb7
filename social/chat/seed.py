"""Demo chats for Li Na: a direct chat with Wang Wei and the group "周末徒步" with her friends."""

from __future__ import annotations

from app.db import transaction
from app.seed import SeedContext
from social.chat import service as chat

DIRECT = [
    ("wangwei", "娜娜，周六有空吗？"),
    ("lina", "有呀，怎么了？"),
    ("wangwei", "想约你去香山看红叶 🍁"),
    ("lina", "好主意！叫上敏敏和杰哥一起吧"),
]
GROUP = [
    ("lina", "周六早上八点香山东门集合～"),
    ("zhangmin", "收到！我带水和零食"),
    ("chenjie", "我开车，能坐四个人 🚗"),
    ("wangwei", "太好了，我带相机"),
]


async def seed(ctx: SeedContext) -> None:
    if not ctx.first_run:
        return
    rt, u = ctx.rt, ctx.users
    async with rt.sessionmaker() as db:
        direct = await chat.get_or_create_direct(db, rt, u["lina"].id, u["wangwei"].id)
        group, _ = await chat.create_conversation(
            db,
            rt,
            creator_id=u["lina"].id,
            member_ids=[u["wangwei"].id, u["zhangmin"].id, u["chenjie"].id],
            title="周末徒步",
        )
        for conversation_id, lines in ((direct.id, DIRECT), (group.id, GROUP)):
            for n, (who, text) in enumerate(lines):
                async with transaction(db):
                    await chat.post_message(
                        db,
                        rt,
                        conversation_id=conversation_id,
                        sender_id=u[who].id,
                        kind=chat.MessageKind.TEXT,
                        body={"text": text},
                        cid=f"seed-{n}",
                    )
    ctx.extras["chat"] = {"direct_lina_wangwei": direct.id, "group_hiking": group.id}
