"""Foundation scenarios: the baseline itself and idempotent top-ups."""

from __future__ import annotations

from scripts.benchlib import Bench, Result, measure


async def baseline(b: Bench) -> Result:
    """An authenticated GET /v1/me: the yardstick every other scenario is compared with."""
    stats = await b.baseline(concurrency=50)
    return Result(stats=stats, baseline=stats)


async def topup(b: Bench) -> Result:
    """Idempotent top-ups from many concurrent clients; every key sent twice (a retry)."""
    concurrency = 50
    people = await b.make_users(b.scale(500, 100))
    total = b.scale(4000, 400)
    clients = b.clients

    async def op(i: int) -> None:
        p = people[(i // 2) % len(people)]  # i and i+1: the same request twice, at once
        headers = {**p.headers, "Idempotency-Key": f"bench-{i // 2}"}
        r = await clients[i % len(clients)].post(
            "/v1/wallet/topup", json={"amount_fen": 100}, headers=headers
        )
        r.raise_for_status()

    stats = await measure(op, total=total, concurrency=concurrency)
    async with b.rt.sessionmaker() as db:
        from app.ledger import service as ledger

        audit = await ledger.audit(db)
        credited = sum([await ledger.balance(db, ledger.wallet_account(p.id)) for p in people])
    return Result(
        stats=stats,
        baseline=await b.baseline(concurrency),
        extra={
            "ledger_ok": audit.ok,
            "distinct_keys": total // 2,
            "one_effect_per_key": credited == 100 * (total // 2),
        },
    )


SCENARIOS = {"baseline": baseline, "topup": topup}
