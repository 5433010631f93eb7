"""Demo: a review queue for the demo moderator to work through — posts held by the term
filter (promised returns, contact details) and one hidden by readers' reports."""

from __future__ import annotations

from app.seed import SeedContext
from content.config import content_settings
from content.posts import service as posts
from content.posts.schemas import PostCreate

HELD = [
    ("wangwei", "朋友推荐的理财，年化收益15%稳赚不赔，名额有限"),
    ("zhangmin", "想了解的私下联系，QQ 2233445566"),
    ("chenjie", "零风险高收益的内部渠道，私信领取资料"),
]


async def seed(ctx: SeedContext) -> None:
    if not ctx.first_run:
        return
    rt, u = ctx.rt, ctx.users
    for handle, text in HELD:
        async with rt.sessionmaker() as db:
            await posts.create_post(db, rt, author=u[handle], body=PostCreate(kind="post", text=text))
    async with rt.sessionmaker() as db:
        reported = await posts.create_post(
            db, rt, author=u["wangwei"], body=PostCreate(kind="post", text="楼下那家店真差劲，大家千万别去！")
        )
    reporters = ["lina", "zhangmin", "chenjie", "advisor"][: content_settings(rt).report_threshold]
    for handle in reporters:
        async with rt.sessionmaker() as db:
            await posts.report(db, rt, user=u[handle], post_id=reported.id, reason="人身攻击")
