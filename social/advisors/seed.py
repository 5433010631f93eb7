"""Demo: Li Na's advisor is Liu Yang (the "advisor" demo user), who has said hello and
has a book of clients with regions and risk profiles to search, filter and sort; Li Na
and two other clients have written to him (unread in his inbox).

Everyone else who holds a card is assigned by the matcher.
"""

from __future__ import annotations

from app.auth import service as auth
from app.db import transaction
from app.seed import SeedContext
from social.advisors import service as advisors
from social.chat import service as chat

# phone → (name, region, risk profile)
CLIENTS = {
    "+8613800138101": ("周婷 Zhou Ting", "上海", "C2"),
    "+8613800138102": ("吴强 Wu Qiang", "北京", "C4"),
    "+8613800138103": ("郑丽 Zheng Li", "上海", "C3"),
    "+8613800138104": ("孙浩 Sun Hao", "深圳", "C5"),
    "+8613800138105": ("何静 He Jing", "杭州", "C1"),
    "+8613800138106": ("马超 Ma Chao", "上海", "C3"),
    "+8613800138107": ("林芳 Lin Fang", "广州", "C2"),
    "+8613800138108": ("高飞 Gao Fei", "北京", "C4"),
}
PROFILES = {
    "lina": ("上海", "C3"),
    "wangwei": ("上海", "C2"),
    "zhangmin": ("北京", "C4"),
    "chenjie": ("深圳", "C3"),
}


async def _say(ctx: SeedContext, client_id: str, advisor_id: str, sender_id: str, text: str) -> None:
    rt = ctx.rt
    async with rt.sessionmaker() as db:
        conv_id = await advisors.client_conversation(db, rt, advisor_id=advisor_id, client_id=client_id)
        async with transaction(db):
            await chat.post_message(
                db, rt, conversation_id=conv_id, sender_id=sender_id, kind="text", body={"text": text}
            )


async def seed(ctx: SeedContext) -> None:
    if not ctx.first_run:
        return
    rt = ctx.rt
    lina, advisor = ctx.users["lina"], ctx.users["advisor"]
    async with rt.sessionmaker() as db:
        for handle, (region, risk) in PROFILES.items():
            await auth.set_bank_profile(db, user_id=ctx.users[handle].id, region=region, risk_profile=risk)
        await auth.set_bank_profile(db, user_id=advisor.id, region="上海")
        await advisors.assign(db, rt, client_id=lina.id, advisor_id=advisor.id)
        book = []
        for n, (phone, (name, region, risk)) in enumerate(CLIENTS.items()):
            user = await auth.get_or_create_user(db, rt, e164=phone, display_name=name)
            await auth.bank_link_card(
                db, rt, user_id=user.id, card_ref=f"demo-card-client-{n}", last4=f"{7100 + n}"
            )
            await auth.set_bank_profile(db, user_id=user.id, region=region, risk_profile=risk)
            await advisors.assign(db, rt, client_id=user.id, advisor_id=advisor.id)
            book.append(user)
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
        await advisors.add_note(
            db, rt, advisor_id=advisor.id, client_id=lina.id, text="偏好稳健型产品，关注子女教育金。"
        )
    await _say(ctx, lina.id, advisor.id, lina.id, "刘经理好，我想每月定投一点，有推荐吗？")
    await _say(ctx, book[0].id, advisor.id, book[0].id, "您好，大额存单现在利率多少？")
    await _say(ctx, book[1].id, advisor.id, book[1].id, "上次说的指数基金我想再了解一下。")
    await _say(ctx, book[1].id, advisor.id, book[1].id, "方便的话下午给我回个电话。")
