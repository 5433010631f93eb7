"""Points benchmarks: the expiry sweep over a million lapsed lots."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import text

from app.ledger import service as ledger
from games.points import service as points
from scripts.benchlib import Bench, Result, Stats

# Per member: a PTS account holding ``lots`` × 10 points, the ledger transaction that
# issued them, and the lots themselves, all lapsed an hour ago.
_SEED = [
    """
INSERT INTO ledger_accounts (id, kind, owner_id, currency, balance_fen, tracks_balance, created_at)
SELECT 'points:' || u, 'points', u, 'PTS', :lots * 10, true, :now FROM unnest(CAST(:users AS varchar[])) u
""",
    """
INSERT INTO ledger_transactions (id, kind, ref_id, memo, created_at, currency)
SELECT 'lt_bench_' || u, 'points_earned', u, 'bench', :now, 'PTS' FROM unnest(CAST(:users AS varchar[])) u
""",
    """
INSERT INTO ledger_postings (transaction_id, account_id, amount_fen, balance_after_fen, created_at)
SELECT 'lt_bench_' || u, a, s * :lots * 10, NULL, :now
FROM unnest(CAST(:users AS varchar[])) u,
     LATERAL (VALUES ('points:' || u, 1), (:issued, -1)) AS e(a, s)
""",
    """
INSERT INTO points_lots (id, user_id, source, ref, memo, amount, remaining, counts_for_tier,
                         earned_at, expires_at, transaction_id)
SELECT 'pl_bench_' || u || '_' || i, u, 'spending', 'bench:' || i, 'bench', 10, 10, true,
       :earned, :expired, 'lt_bench_' || u
FROM unnest(CAST(:users AS varchar[])) u, generate_series(1, :lots) i
""",
]


async def points_expiry(b: Bench) -> Result:
    """1 000 000 lapsed lots (10 000 members × 100): how long the expiry sweep takes to move
    them all to the expiry account, and that the ledger still balances per currency."""
    members, lots = b.scale(10_000, 1_000), 100
    people = await b.make_users(members)
    now = b.rt.clock.now()
    params = {
        "users": [p.id for p in people],
        "lots": lots,
        "now": now,
        "issued": ledger.POINTS_ISSUED,
        "earned": now - timedelta(days=400),
        "expired": now - timedelta(hours=1),
    }
    async with b.rt.sessionmaker() as db, db.begin():
        for statement in _SEED:
            await db.execute(text(statement), params)
    t0 = time.perf_counter()
    lapsed = await points.expire_due(b.rt)
    seconds = time.perf_counter() - t0
    async with b.rt.sessionmaker() as db:
        audit = await ledger.audit(db)
        left = await db.scalar(text("SELECT count(*) FROM points_lots WHERE remaining > 0"))
    stats = Stats(ops=members, seconds=seconds, latencies_ms=[seconds * 1000 / members] * members)
    return Result(
        stats=stats,
        baseline=None,
        extra={
            "lots": members * lots,
            "members": members,
            "sweep_s": round(seconds, 2),
            "lots_per_s": round(members * lots / seconds, 1),
            "points_lapsed": lapsed,  # by this sweep (the server's own job may take some)
            "lots_left": int(left or 0),
            "ledger_ok": audit.ok,
        },
    )


SCENARIOS = {"points_expiry": points_expiry}
