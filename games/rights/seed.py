"""Demo rights: a Luckin coffee (free each month for 金卡 and up), a video membership
(free for 白金 and up, or 2 000 points), an airport fast-track (钻石 free, or 8 000
points) and a Starbucks ¥30 coupon (1 500 points); Li Na (白金) holds this month's free
coffee voucher."""

from __future__ import annotations

from datetime import timedelta

from app.db import transaction
from app.seed import SeedContext
from games.rights import service as rights
from games.rights.models import LimitPeriod
from games.rights.schemas import RightCreate


async def seed(ctx: SeedContext) -> None:
    if not ctx.first_run:
        return
    rt = ctx.rt
    now = rt.clock.now()
    window = {"available_from": now - timedelta(days=1), "available_until": now + timedelta(days=365)}
    catalogue = [
        RightCreate(
            kind="coffee",
            title="瑞幸咖啡 任意饮品券",
            description="Any drink at Luckin Coffee",
            partner="瑞幸咖啡 Luckin",
            points_price=None,
            stock=10_000,
            per_user_limit=1,
            limit_period=LimitPeriod.MONTH,
            voucher_valid_days=30,
            **window,
        ),
        RightCreate(
            kind="video_membership",
            title="腾讯视频 VIP 月卡",
            description="One month of Tencent Video VIP",
            partner="腾讯视频 Tencent Video",
            points_price=2_000,
            stock=5_000,
            per_user_limit=1,
            limit_period=LimitPeriod.MONTH,
            voucher_valid_days=60,
            **window,
        ),
        RightCreate(
            kind="airport_fast_track",
            title="机场快速安检",
            description="Airport security fast track, PEK/PVG/CAN/SZX",
            partner="龙腾出行 Dragon Pass",
            points_price=8_000,
            tiers=["platinum", "diamond"],
            stock=500,
            per_user_limit=2,
            limit_period=LimitPeriod.YEAR,
            voucher_valid_days=180,
            **window,
        ),
        RightCreate(
            kind="coupon",
            title="星巴克 ¥30 代金券",
            description="¥30 off at Starbucks",
            partner="星巴克 Starbucks",
            points_price=1_500,
            stock=2_000,
            per_user_limit=3,
            limit_period=LimitPeriod.MONTH,
            voucher_valid_days=30,
            **window,
        ),
    ]
    async with rt.sessionmaker() as db:
        made = [await rights.create_right(db, rt, body=body) for body in catalogue]
        async with transaction(db):
            await rights.claim(db, rt, user_id=ctx.users["lina"].id, right_id=made[0].id)
