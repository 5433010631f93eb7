"""Demo audience: "动漫爱好者 · anime fans" — members who watched anime lately (Li Na is one),
and "金卡及以上 · gold and above" by points tier."""

from __future__ import annotations

from app.audiences import service as audiences
from app.audiences.schemas import AudienceCreate
from app.seed import SeedContext


async def seed(ctx: SeedContext) -> None:
    if not ctx.first_run:
        return
    rt = ctx.rt
    admin = ctx.users["admin"].id
    async with rt.sessionmaker() as db:
        fans = await audiences.create(
            db,
            rt,
            admin_id=admin,
            body=AudienceCreate.model_validate(
                {
                    "name": "动漫爱好者 · anime fans",
                    "description": "watched anime on the video partner in the last 30 days",
                    "rule": {
                        "kind": "and",
                        "rules": [
                            {"kind": "tag", "tag": "genre:anime", "min_weight": 2, "within_days": 30},
                            {"kind": "attribute", "name": "cardholder", "is": True},
                        ],
                    },
                }
            ),
        )
        await audiences.create(
            db,
            rt,
            admin_id=admin,
            body=AudienceCreate.model_validate(
                {
                    "name": "金卡及以上 · gold and above",
                    "rule": {"kind": "attribute", "name": "tier", "at_least": "gold"},
                }
            ),
        )
    ctx.extras["audience_anime_fans"] = fans.id
