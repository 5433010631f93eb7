"""Li Na's "for you" tab: she lets the bank use what she reads (the ``content`` scenario)
and reads the fund articles, so the tab ranks funds first with its reason ("因为你关注基金")."""

from __future__ import annotations

from app.profile import service as profile
from app.profile.schemas import ConsentChange
from app.seed import SeedContext
from content.posts import feeds
from content.posts import service as posts


async def seed(ctx: SeedContext) -> None:
    if not ctx.first_run:
        return
    rt, lina = ctx.rt, ctx.users["lina"]
    async with rt.sessionmaker() as db:
        await profile.set_consents(
            db, rt, user_id=lina.id, changes=[ConsentChange(scenario="content", granted=True)]
        )
        found = await feeds.feed(db, rt, viewer=lina, tab="following", limit=50, cursor=None)
    for item in found.items:
        if "基金" in (item["title"] or "") + item["text"]:
            async with rt.sessionmaker() as db:
                await posts.get_post(db, rt, viewer=lina, post_id=item["id"])
