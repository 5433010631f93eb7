"""Demo forest: Li Na has ripe and growing balls, friends with balls to collect, a tree,
steps for today, and energy on the leaderboards."""

from __future__ import annotations

from datetime import timedelta

from app.db import transaction
from app.seed import SeedContext
from games.forest import service as forest
from games.rules import rules


async def seed(ctx: SeedContext) -> None:
    if not ctx.first_run:
        return
    from games.energy import service as energy

    rt = ctx.rt
    r = rules()
    now = rt.clock.now()
    people = {h: ctx.users[h].id for h in ("lina", "wangwei", "zhangmin", "chenjie")}
    ripe_at = now - timedelta(hours=30)  # acted 30 h ago: ripe for another 66 h
    growing_at = now - timedelta(hours=3)
    rows = []
    for handle, uid in people.items():
        for n, (source, grams, at) in enumerate(
            [
                ("bill_payment", 262, ripe_at),
                ("transit", 52, ripe_at),
                ("offline_payment", 5, growing_at),
                ("e_ticket", 136, growing_at),
            ]
        ):
            rows.append(
                forest.ball_row(
                    r,
                    forest.NewBall(
                        owner_id=uid,
                        source=source,
                        source_ref=f"demo:{handle}:{n}",
                        amount_g=grams,
                        action_at=at,
                    ),
                    now=now,
                )
            )
    # Energy gathered before today, as balls collected by their owners (conservation holds).
    saved = [
        forest.ball_row(
            r,
            forest.NewBall(
                owner_id=people[h],
                source="steps",
                source_ref=f"demo:{h}:saved",
                amount_g=g,
                action_at=ripe_at,
            ),
            now=now,
        )
        for h, g in (("lina", 30_000), ("wangwei", 12_000))
    ]
    async with rt.sessionmaker() as db:
        async with transaction(db):
            await forest.add_balls(db, rows + saved)
        for row in saved:
            await forest.collect(db, rt, ball_id=str(row["id"]), user_id=str(row["owner_id"]))
        await forest.plant(db, rt, user_id=people["lina"], species_id="saxaul")
        # Friends already took a little from Li Na's ripe balls; Li Na collected one of Wang Wei's.
        lina_ripe = [
            row["id"] for row in rows if row["owner_id"] == people["lina"] and row["source"] == "bill_payment"
        ]
        for ball_id in lina_ripe:
            await forest.collect(db, rt, ball_id=str(ball_id), user_id=people["zhangmin"])
        wang_ripe = [
            row["id"] for row in rows if row["owner_id"] == people["wangwei"] and row["source"] == "transit"
        ]
        for ball_id in wang_ripe:
            await forest.collect(db, rt, ball_id=str(ball_id), user_id=people["lina"])
        for handle, steps in (("lina", 8_600), ("wangwei", 12_400), ("zhangmin", 4_300), ("chenjie", 15_200)):
            await energy.report_steps(db, rt, user_id=people[handle], day=rt.clock.today(), steps=steps)
