"""Demo content for Li Na's feed: PGC articles with a product card by the demo advisor,
UGC posts by her friends, a question with answers (one accepted), likes and follows,
and one post held in the moderation queue for the demo moderator."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image, ImageDraw

from app.seed import SeedContext
from content.media import service as media
from content.posts import service as posts
from content.posts.schemas import CommentCreate, PostCreate


def _chart_png() -> bytes:
    img = Image.new("RGB", (640, 360), (250, 248, 240))
    draw = ImageDraw.Draw(img)
    points = [(40 + i * 60, 300 - int(120 + 80 * ((i * 7) % 5) / 4 + i * 12)) for i in range(10)]
    draw.line(points, fill=(200, 40, 40), width=5)
    draw.line([(40, 320), (600, 320)], fill=(80, 80, 80), width=2)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


async def seed(ctx: SeedContext) -> None:
    if not ctx.first_run:
        return
    rt, u = ctx.rt, ctx.users

    async def create(handle: str, **body: Any) -> str:
        async with rt.sessionmaker() as db:
            return (await posts.create_post(db, rt, author=u[handle], body=PostCreate(**body))).id

    async with rt.sessionmaker() as db:
        chart = await media.upload(db, rt, owner_id=u["advisor"].id, data=_chart_png())
    await create(
        "advisor",
        kind="article",
        title="基金定投入门：用纪律对抗情绪",
        text="定投的核心是纪律：每月固定日期投入固定金额，淡化择时。理财有风险，投资需谨慎。",
        media_ids=[chart.id],
        product={"product_id": "fund-dt-001"},
    )
    await create(
        "advisor",
        kind="article",
        title="年末理财：现金管理怎么做",
        text="备用金放在随取随用的现金管理产品里，三到六个月的开支为宜。",
        product={"product_id": "fund-money"},
    )
    await create("wangwei", kind="post", text="这周末去爬山了，顺便把信用卡账单还了 🏔️")
    await create("zhangmin", kind="post", text="第一次用蚂蚁森林式的能量种树，太有意思了！")
    tip = await create("chenjie", kind="post", text="记账第 30 天：外卖少点，一个月省了 600 块。")
    question = await create("lina", kind="question", text="刚工作一年，每月能存 3000，先买什么比较好？")
    async with rt.sessionmaker() as db:
        await posts.add_comment(
            db, rt, user=u["wangwei"], post_id=question, body=CommentCreate(text="先存够应急金再说～")
        )
    async with rt.sessionmaker() as db:
        answer = await posts.add_comment(
            db,
            rt,
            user=u["advisor"],
            post_id=question,
            body=CommentCreate(text="建议先留 3–6 个月开支做应急金，再考虑定投指数基金，量力而行。"),
        )
    async with rt.sessionmaker() as db:
        await posts.accept_answer(db, rt, user=u["lina"], post_id=question, comment_id=answer.id)
    for handle in ("advisor", "wangwei", "zhangmin", "chenjie"):
        async with rt.sessionmaker() as db:
            await posts.follow(db, rt, user=u["lina"], target_id=u[handle].id, on=True)
    for handle in ("lina", "wangwei", "zhangmin"):
        async with rt.sessionmaker() as db:
            await posts.like(db, rt, user=u[handle], post_id=tip)
    # Held by the term filter (outside contact + guaranteed returns): waits for the moderator.
    await create("chenjie", kind="post", text="保本保息的好项目，加我微信 cj_licai888 详聊")
