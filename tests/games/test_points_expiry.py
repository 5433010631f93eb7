"""The expiry sweep is set-based (thousands of members per statement and transaction) and
still moves each lapsed point exactly once: under two concurrent sweepers, after a crash
in the middle of a round, and past a member whose points are busy; Σ = 0 per currency."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.db import transaction
from app.ledger import service as ledger
from games.points import service as points
from games.points.models import PointsLot
from tests.games.test_points import audit_ok, lots_consistent

DAY = 24 * 3600


async def members_with_lapsed_lots(rt, users, n: int) -> list:
    """``n`` members, each with lots of 10, 20 and 30 points lapsed an hour ago and one of
    40 still live."""
    people = [await users.make(f"m{i}") for i in range(n)]
    async with rt.sessionmaker() as db:
        for p in people:
            for k in (1, 2, 3, 4):
                await points.grant(db, rt, user_id=p.id, points=10 * k, ref=f"g{k}", memo="seed")
    async with rt.sessionmaker() as db, transaction(db):
        await db.execute(
            update(PointsLot)
            .where(PointsLot.amount < 40)
            .values(expires_at=rt.clock.now() - timedelta(hours=1))
        )
    return people


async def expired_lines(client, person) -> list[int]:
    r = await client.get("/v1/me/points/statement", headers=person.headers)
    return [x["points"] for x in r.json()["items"] if x["kind"] == "points_expired"]


async def test_a_crash_mid_sweep_loses_nothing_and_two_sweepers_lapse_each_lot_once(
    client, rt, users, monkeypatch
):
    people = await members_with_lapsed_lots(rt, users, 25)
    real_post = ledger.post
    calls = 0

    async def crash_on_the_second_round(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 2:  # the second round's lots are emptied, its ledger posting dies
            raise RuntimeError("killed")
        return await real_post(*args, **kwargs)

    monkeypatch.setattr(ledger, "post", crash_on_the_second_round)
    with pytest.raises(RuntimeError):
        await points.expire_due(rt, members=10)
    monkeypatch.setattr(ledger, "post", real_post)
    async with rt.sessionmaker() as db:
        assert await ledger.balance(db, ledger.POINTS_EXPIRED) == 10 * 60  # the first round only
        lapsed_left = await db.scalar(
            select(func.count()).where(PointsLot.remaining > 0, PointsLot.amount < 40)
        )
        assert lapsed_left == 15 * 3  # the crashed round rolled back whole
    await audit_ok(rt)
    await lots_consistent(rt)
    # restarted by two sweepers at once, in rounds of 4 members: the rest lapses once
    done = await asyncio.gather(points.expire_due(rt, members=4), points.expire_due(rt, members=4))
    assert sum(done) == 15 * 60
    assert await points.expire_due(rt, members=4) == 0
    async with rt.sessionmaker() as db:
        assert await ledger.balance(db, ledger.POINTS_EXPIRED) == 25 * 60
    for p in people:
        assert await expired_lines(client, p) == [-60]  # one line each, whoever swept it
        mine = (await client.get("/v1/me/points", headers=p.headers)).json()
        assert mine["balance"] == 40 and [x["amount"] for x in mine["lots"]] == [40]
    await audit_ok(rt)
    await lots_consistent(rt)


async def test_a_member_whose_points_are_busy_is_left_to_the_next_sweep(client, rt, users):
    li, wang = await members_with_lapsed_lots(rt, users, 2)
    async with rt.sessionmaker() as busy, transaction(busy):
        await points.lock_member(busy, rt, user_id=li.id)  # a spend in flight
        assert await points.expire_due(rt) == 60  # wang's; li's account is held
    assert await expired_lines(client, li) == []
    assert await points.expire_due(rt) == 60
    assert await expired_lines(client, li) == [-60] and await expired_lines(client, wang) == [-60]
    await audit_ok(rt)
    await lots_consistent(rt)


async def test_the_sweep_still_sends_n_points_expire_on(client, rt, users):
    from tests.social.money_support import notifications

    [li] = await members_with_lapsed_lots(rt, users, 1)
    async with rt.sessionmaker() as db, transaction(db):
        await db.execute(
            update(PointsLot)
            .where(PointsLot.amount == 40)
            .values(expires_at=rt.clock.now() + timedelta(days=10))
        )
    assert await points.expire_due(rt) == 60
    [n] = await notifications(rt, li.id, "points_expiring")
    assert n.data["points"] == 40 and n.data["text"].startswith("40 points expire on ")
    await points.expire_due(rt)
    assert len(await notifications(rt, li.id, "points_expiring")) == 1


async def test_rounds_go_on_until_nothing_is_left_whatever_the_scan_finds(client, rt, users):
    people = await members_with_lapsed_lots(rt, users, 6)
    # each round sees 2 lapsed lots only, so fewer members than a round may take
    assert await points.expire_due(rt, members=100, lots=2) == 6 * 60
    for p in people:
        assert await expired_lines(client, p) == [-60]
    await audit_ok(rt)
    await lots_consistent(rt)
