"""Social scenarios: contact sync against many seeded users, and friend suggestions.

- ``contacts_sync``: one call = 2 000 numbers in mixed formats, 10 % of them
  discoverable cardholders, against ``b.scale(1_000_000, 20_000)`` seeded users
  (``app.seed.bulk_users``: COPY on PostgreSQL). Each call is a different user's first
  sync, so every number is charged to a fresh token bucket. The headline p50/p99 is the
  latency of one call (calls one after another, as the target is stated); ``concurrent``
  reports the same load with 4 calls in flight on the same workers. Reports the seeding
  time.
- ``suggestions``: a user with ``b.scale(300, 60)`` friends, each with as many friends
  drawn from a pool sized so a friend-of-friend has ~3 mutual friends on average.
"""

from __future__ import annotations

import hashlib
import random
import time
from typing import Any

from sqlalchemy import func, select

from app import seed as seeding
from app.auth import tokens
from app.auth.models import User
from app.runtime import Runtime
from scripts.benchlib import Bench, Person, Result, measure


def _formats(e164: str, i: int) -> str:
    national = e164[3:]
    return [
        national,
        f"{national[:3]} {national[3:7]} {national[7:]}",
        f"+86 {national[:3]}-{national[3:7]}-{national[7:]}",
        f"0086{national}",
    ][i % 4]


async def _copy(rt: Runtime, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Bulk insert (COPY)."""
    async with rt.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        async with driver.transaction():
            await driver.copy_records_to_table(table, records=rows, columns=columns)


async def contacts_sync(b: Bench) -> Result:
    n_users = b.scale(1_000_000, 20_000)
    per_call = 2000
    async with b.rt.sessionmaker() as db:
        first = int(await db.scalar(select(func.count()).select_from(User)) or 0)
    t0 = time.perf_counter()
    await seeding.bulk_users(b.rt, n_users, first=first, progress=False)
    seed_s = time.perf_counter() - t0
    async with b.rt.engine.connect() as conn:
        await conn.exec_driver_sql("ANALYZE users")
        await conn.commit()
    total = b.scale(200, 30)
    concurrency = 4
    people = await b.make_users(2 * total)
    rng = random.Random(7)
    holders = [first + i for i in range(0, n_users, 10)]
    others = [first + i for i in range(n_users) if i % 10]
    books = []
    for _ in range(2 * total):
        picked = rng.sample(holders, per_call // 10) + rng.sample(others, per_call - per_call // 10)
        rng.shuffle(picked)
        books.append(
            {"contacts": [{"phone": _formats(seeding.bulk_phone(i), i), "name": "c"} for i in picked]}
        )
    matched: list[int] = []
    clients = b.clients

    async def op(i: int) -> None:
        r = await clients[i % len(clients)].post(
            "/v1/contacts/sync", json=books[i], headers=people[i].headers
        )
        r.raise_for_status()
        matched.append(len(r.json()["matches"]))

    stats = await measure(op, total=total, concurrency=1)

    async def op_later(i: int) -> None:
        await op(total + i)

    loaded = await measure(op_later, total=total, concurrency=concurrency)
    return Result(
        stats=stats,
        baseline=await b.baseline(1, total=b.scale(1000, 200)),
        extra={
            "concurrent": {"concurrency": concurrency, **loaded.summary()},
            "seeded_users": n_users,
            "seed_s": round(seed_s, 1),
            "seed_users_per_s": round(n_users / seed_s),
            "numbers_per_call": per_call,
            "matches_per_call": round(sum(matched) / max(1, len(matched)), 1),
        },
    )


async def suggestions(b: Bench) -> Result:
    degree = b.scale(300, 60)
    pool_size = max(degree, degree * degree // 3)
    now = b.rt.clock.now()
    run = hashlib.sha256(str(time.time()).encode()).hexdigest()[:6]
    me = f"u_sg{run}me"
    friends = [f"u_sg{run}f{i:04d}" for i in range(degree)]
    pool = [f"u_sg{run}p{i:06d}" for i in range(pool_size)]
    columns = ["id", "phone_hash", "phone_masked", "display_name", "roles", "is_cardholder", "discoverable"]
    columns += ["language", "created_at"]
    rows = [
        (
            uid,
            hashlib.sha256(uid.encode()).hexdigest(),
            "+86 170****0000",
            uid[-8:],
            "user",
            True,
            True,
            "zh",
            now,
        )
        for uid in [me, *friends, *pool]
    ]
    t0 = time.perf_counter()
    await _copy(b.rt, "users", columns, rows)
    rng = random.Random(11)
    edges: set[tuple[str, str]] = set()
    for f in friends:
        edges.add((min(me, f), max(me, f)))
        for p in rng.sample(pool, degree - 1):
            edges.add((min(f, p), max(f, p)))
    await _copy(
        b.rt, "friendships", ["user_lo", "user_hi", "created_at"], [(lo, hi, now) for lo, hi in edges]
    )
    seed_s = time.perf_counter() - t0
    async with b.rt.engine.connect() as conn:
        await conn.exec_driver_sql("ANALYZE friendships")
        await conn.commit()
    person = Person(me, tokens.issue(b.rt.settings, me))
    clients = b.clients
    got: list[int] = []

    async def op(i: int) -> None:
        r = await clients[i % len(clients)].get("/v1/friends/suggestions?limit=20", headers=person.headers)
        r.raise_for_status()
        got.append(len(r.json()["items"]))

    await measure(op, total=5, concurrency=1)  # warm-up
    concurrency = 4
    stats = await measure(op, total=b.scale(200, 40), concurrency=concurrency)
    return Result(
        stats=stats,
        baseline=await b.baseline(concurrency),
        extra={
            "friends": degree,
            "friends_of_friends_edges": len(edges) - degree,
            "seed_s": round(seed_s, 1),
            "suggestions_returned": min(got) if got else 0,
        },
    )


SCENARIOS = {"contacts_sync": contacts_sync, "suggestions": suggestions}
