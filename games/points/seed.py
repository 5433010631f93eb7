"""Demo points: Li Na is a 白金 Platinum member with lots from last year and this one,
a H World number (her tier matches their Gold), and a spent coffee; Wang Wei has a few
points from card spending."""

from __future__ import annotations

from datetime import timedelta

from app.db import transaction
from app.ledger import service as ledger
from app.seed import SeedContext
from games.points import exchange
from games.points import service as points
from games.points.models import LotSource
from games.rules import rules


async def seed(ctx: SeedContext) -> None:
    if not ctx.first_run:
        return
    rt = ctx.rt
    r = rules().points
    now = rt.clock.now()
    lina, wang = ctx.users["lina"].id, ctx.users["wangwei"].id
    async with rt.sessionmaker() as db:
        async with transaction(db):
            for user_id, pts, ref, earned_at, memo in (
                (lina, 1_200, "demo:last-year", now - timedelta(days=300), "card spending last year"),
                (lina, 21_500, "demo:this-year", now - timedelta(days=20), "card spending"),
                (wang, 860, "demo:wang", now - timedelta(days=3), "card spending"),
            ):
                await points.post_points(
                    db,
                    rt,
                    user_id=user_id,
                    kind="points_earned",
                    ref=ref,
                    counter=ledger.POINTS_ISSUED,
                    amount=pts,
                    lot=points.new_lot(r, rt, source=LotSource.SPENDING, earned_at=earned_at),
                    memo=memo,
                )
            await points.spend(
                db, rt, user_id=lina, points=300, ref="demo:coffee", memo="咖啡 coffee voucher"
            )
        if r.partner("hotel") is not None:
            await exchange.link(db, rt, user_id=lina, programme_id="hotel", member_no="HW-8800123")
