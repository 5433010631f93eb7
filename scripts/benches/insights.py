"""Insights: the nightly "users like you" job on a synthetic population
(``app.insights.synthetic``: 70 % of members in one cell, the rest spread thinly)."""

from __future__ import annotations

import time

from sqlalchemy import text

from app.db import transaction
from app.insights import service as insights
from app.insights.synthetic import populate
from scripts.benchlib import Bench, Result, Stats


async def insights_job(b: Bench) -> Result:
    """The nightly "users like you" job over the whole population (1 000 000 members at
    full scale): seconds for one run, with the number of cells and cohorts it published."""
    n = b.scale(1_000_000, 20_000)
    started = time.perf_counter()
    async with b.rt.sessionmaker() as db, transaction(db):
        await populate(db, n=n, now=b.rt.clock.now())
    async with b.rt.sessionmaker() as db, transaction(db):
        for table in ("users", "member_attributes", "profile_consents", "ledger_postings", "spending_events"):
            await db.execute(text(f"ANALYZE {table}"))
    seeded_s = time.perf_counter() - started
    started = time.perf_counter()
    summary = await insights.compute(b.rt)
    seconds = time.perf_counter() - started
    return Result(
        stats=Stats(ops=1, seconds=seconds, latencies_ms=[seconds * 1000]),
        extra={"members": n, "job_s": round(seconds, 2), "populate_s": round(seeded_s, 1), **summary},
    )


SCENARIOS = {"insights_job": insights_job}
