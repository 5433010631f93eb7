"""Demo: Li Na's referral code, redeemed by Zheng Hao, who then linked a card (Li Na is rewarded)."""

from __future__ import annotations

import social.referrals.hooks  # noqa: F401  (registers the reward on first card)
from app.auth import cards
from app.auth import service as auth
from app.seed import SeedContext
from social.contacts.seed import extra_people
from social.referrals import service as referrals


async def seed(ctx: SeedContext) -> None:
    if not ctx.first_run:
        return
    rt = ctx.rt
    people = await extra_people(ctx)
    lina, zhenghao = ctx.users["lina"], people["zhenghao"]
    async with rt.sessionmaker() as db:
        code = await referrals.get_or_create_code(db, rt, user_id=lina.id)
        for handle in ("wangwei", "zhangmin", "chenjie"):
            await referrals.get_or_create_code(db, rt, user_id=ctx.users[handle].id)
        await referrals.redeem(db, rt, user_id=zhenghao.id, code=code)
        # Through the app, with a card token the bank's SDK signed (``app.auth.cards``).
        token = cards.sign(
            key=rt.settings.card_token_key,
            card_ref="demo-card-zhenghao",
            user_id=zhenghao.id,
            exp=int(rt.clock.now().timestamp()) + 600,
        )
        await auth.link_card(db, rt, user_id=zhenghao.id, card_token=token, last4="7304")
