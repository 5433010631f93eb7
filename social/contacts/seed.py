"""Demo: people Li Na may know, her address-book matches and pending friend requests.

After the seed, Li Na has two incoming friend requests (Sun Li, Zheng Hao), matches
from her address book (Sun Li, Zhou Qiang), and suggestions led by Zhou Qiang (two
mutual friends and in her contacts) and Wu Fang (a friend of Chen Jie).
"""

from __future__ import annotations

from typing import Any

from app.auth import service as auth
from app.db import transaction
from app.seed import SeedContext
from social.contacts import service as contacts
from social.contacts.schemas import ContactIn
from social.friends import service as friends

# handle → (phone, display name, cardholder)
EXTRA_PEOPLE: dict[str, tuple[str, str, bool]] = {
    "sunli": ("+8613800138011", "孙丽 Sun Li", True),
    "zhouqiang": ("+8613800138012", "周强 Zhou Qiang", True),
    "wufang": ("+8613800138013", "吴芳 Wu Fang", True),
    "zhenghao": ("+8613800138014", "郑浩 Zheng Hao", False),  # becomes a cardholder via a referral
}


async def extra_people(ctx: SeedContext) -> dict[str, auth.Caller]:
    """The social demo's extra people (made once, shared by the social seeds)."""
    found: dict[str, Any] = ctx.extras.setdefault("social_people", {})
    if found:
        return found
    rt = ctx.rt
    async with rt.sessionmaker() as db:
        for n, (handle, (phone, name, cardholder)) in enumerate(EXTRA_PEOPLE.items()):
            user = await auth.get_or_create_user(db, rt, e164=phone, display_name=name)
            if cardholder and not user.is_cardholder:
                _, user, _ = await auth.bank_link_card(
                    db, rt, user_id=user.id, card_ref=f"demo-card-{handle}", last4=f"{7301 + n}"
                )
            found[handle] = user
    return found


async def seed(ctx: SeedContext) -> None:
    if not ctx.first_run:
        return
    rt = ctx.rt
    people = await extra_people(ctx)
    lina, wangwei, zhangmin, chenjie = (ctx.users[h] for h in ("lina", "wangwei", "zhangmin", "chenjie"))
    async with rt.sessionmaker() as db:
        async with transaction(db):
            now = rt.clock.now()
            for a, b in [
                (people["zhouqiang"], wangwei),
                (people["zhouqiang"], zhangmin),
                (people["wufang"], chenjie),
            ]:
                await friends.make_friends(db, a.id, b.id, now=now)
        # Li Na's address book, in the formats phones really hold.
        await contacts.sync(
            db,
            rt,
            user_id=lina.id,
            contacts=[
                ContactIn(phone="138 0013 8011", name="孙丽（理财讲座）"),
                ContactIn(phone="+86 138-0013-8012", name="周强 羽毛球"),
                ContactIn(phone="008613800138002", name="王伟"),
                ContactIn(phone="139 1234 5678", name="快递小哥"),  # nobody here: not kept
            ],
        )
        # Zhou Qiang has Li Na's number too.
        await contacts.sync(db, rt, user_id=people["zhouqiang"].id, contacts=[ContactIn(phone="13800138001")])
        await friends.send_request(
            db, rt, user_id=people["sunli"].id, to_user_id=lina.id, message="我是孙丽，上次理财讲座认识的 😊"
        )
        await friends.send_request(
            db, rt, user_id=people["zhenghao"].id, to_user_id=lina.id, message="谢谢你的邀请码！"
        )
