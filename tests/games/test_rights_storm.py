"""Rights claims under real concurrency: 2 000 claims at once through ``quanzi serve
--workers 2`` (two worker processes behind one port) on one PostgreSQL and one real Redis.

Demand (many members, each trying more often than the per-member limit, some without
enough points for all they try) far exceeds the stock. Afterwards: exactly the stock was
issued and never more, nobody holds more than the limit, every member's points went down
by exactly the price of their vouchers, and the ledger balances.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import func, select

from app.ledger import service as ledger
from games.rights.models import Right, RightUsage, Voucher
from tests.games.test_rights import give_points, make_right
from tests.support.nodes import cpu_seconds, one_node, worker_pids

CLAIMS = 2_000  # requests, each its own claim (its own Idempotency-Key)
STOCK, PRICE, LIMIT = 300, 10, 4
MEMBERS = 100  # 90 × 4 + 10 × 2 = 380 claimable > 300: the stock runs out
SHORT = 10  # of them, with points for only 2 claims: insufficient_funds after that
POINTS = 1_000
# PostgreSQL and the two cores are shared with everything else on the machine: small
# pools (each worker admits 5 requests at once, app/admission.py), and a client
# concurrency that keeps both workers' 10 slots busy with a short queue behind them (40
# in flight was no faster: 63 s against 52 s, the same CPU).
SMALL_POOL = {"QUANZI_DB_POOL_SIZE": "5"}
CONCURRENCY = 16


@pytest.mark.real_backends
async def test_2000_concurrent_claims_through_two_workers_issue_exactly_the_stock(
    settings, client, rt, users
):
    statuses: Counter[int] = Counter()
    codes: Counter[str] = Counter()
    issued: list[tuple[str, dict[str, Any]]] = []
    async with one_node(settings, workers=2, extra_env=SMALL_POOL, ready=False) as node:
        # The members, their points and the right, while the two workers boot.
        admin = await users.make("admin", roles="admin,user")
        members = await asyncio.gather(*(users.make(f"m{i}", cardholder=False) for i in range(MEMBERS)))
        short = {m.id for m in members[:SHORT]}
        await asyncio.gather(*(give_points(rt, m, 2 * PRICE if m.id in short else POINTS) for m in members))
        right = await make_right(client, rt, admin, points_price=PRICE, stock=STOCK, per_user_limit=LIMIT)
        attempts = [members[n % MEMBERS] for n in range(CLAIMS)]  # 20 tries each
        random.Random(16).shuffle(attempts)
        await node.wait_ready()
        workers = worker_pids(node)
        assert len(workers) >= 2, "quanzi serve --workers 2 runs two worker processes"
        limiter = anyio.CapacityLimiter(CONCURRENCY)
        async with httpx.AsyncClient(
            base_url=node.url, timeout=60, limits=httpx.Limits(max_connections=CONCURRENCY)
        ) as http:

            async def one(n: int, member: Any) -> None:
                async with limiter:
                    r = await http.post(
                        f"/v1/rights/{right['id']}/claim",
                        headers={**member.headers, "Idempotency-Key": f"storm-{n}"},
                    )
                statuses[r.status_code] += 1
                if r.status_code == 201:
                    issued.append((member.id, r.json()))
                else:
                    codes[r.json()["error"]["code"]] += 1

            started, cpu_before = time.monotonic(), cpu_seconds(workers)
            async with anyio.create_task_group() as tg:
                for n, member in enumerate(attempts):
                    tg.start_soon(one, n, member)
            storm_s, cpu_s = time.monotonic() - started, cpu_seconds(workers) - cpu_before

    assert sum(statuses.values()) == CLAIMS
    assert statuses == {201: STOCK, 409: CLAIMS - STOCK}, statuses
    assert set(codes) <= {"sold_out", "limit_exceeded", "insufficient_funds"}, codes
    assert codes["sold_out"] > 0  # demand exceeded the stock
    per_member = Counter(uid for uid, _ in issued)
    assert max(per_member.values()) <= LIMIT
    assert all(per_member[uid] <= 2 for uid in short)  # no points, no voucher
    assert len({v["code"] for _, v in issued}) == STOCK  # every voucher its own code

    async with rt.sessionmaker() as db:
        r = await db.get(Right, right["id"])
        assert r is not None and r.stock_left == 0  # exactly the stock, never below zero
        vouchers = dict(
            (await db.execute(select(Voucher.user_id, func.count()).group_by(Voucher.user_id))).all()  # type: ignore[arg-type]
        )
        assert vouchers == dict(per_member)
        usage = dict(
            (
                await db.execute(
                    select(RightUsage.user_id, func.sum(RightUsage.count)).group_by(RightUsage.user_id)
                )
            ).all()  # type: ignore[arg-type]
        )
        assert usage == dict(per_member)
        spent = 0
        for m in members:
            start = 2 * PRICE if m.id in short else POINTS
            left = await ledger.balance(db, ledger.points_account(m.id))
            assert left == start - PRICE * per_member.get(m.id, 0), m.id
            spent += start - left
        assert spent == PRICE * STOCK  # points spent = vouchers × price
        audit = await ledger.audit(db)
    assert audit.ok, audit
    # What it took (shown with -s): wall time depends on the machine's other tenants, the
    # workers' CPU time much less.
    print(
        f"\n{CLAIMS} claims, 2 workers: {storm_s:.1f} s, {CLAIMS / storm_s:.0f}/s, workers' CPU {cpu_s:.1f} s"
    )
