"""The benchmark harness: a server started for real, users made fast, and timed load.

A scenario is ``async def scenario(b: Bench) -> Result`` registered in a
``scripts/benches/<area>.py`` module's ``SCENARIOS`` dict. It seeds what it needs through
``b.rt`` (a Runtime on the server's own database and Redis) or ``b.make_users``, drives
the server at ``b.url`` / ``b.ws_url`` (``b.urls`` when there are several workers), and
times its operations with ``measure``. The harness prints one JSON line per scenario
with the scenario's figures and those of the baseline (an authenticated ``GET /v1/me``
at the same concurrency) measured in the same run, so ratios survive a noisy machine.

Each ``measure`` also reports what an operation costs, figures that a busy machine moves
much less than throughput (``scripts/benchcost.py``): CPU milliseconds per operation of the
service's worker processes (``app_cpu_ms_per_op``) and of the PostgreSQL backends serving
the run's database (``db_cpu_ms_per_op``), and round trips to PostgreSQL per operation.
"""

from __future__ import annotations

import itertools
import json
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from app.auth import phones, tokens
from app.auth.models import User
from app.ledger import service as ledger
from app.ledger.models import Account
from app.runtime import Runtime
from scripts.benchcost import Cost, CostMeter
from scripts.benchhttp import Client, HTTPStatusError

# Set by the harness (``scripts/bench.py``) once the servers run: ``measure`` samples it.
METER: CostMeter | None = None


@dataclass
class Stats:
    ops: int
    seconds: float
    latencies_ms: list[float]
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    cost: Cost | None = None
    cost_ops: int | None = None  # what the cost is divided by, when not ops + errors

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> dict[str, Any]:
        return {
            "ops": self.ops,
            "errors": self.errors,
            "ops_per_s": round(self.ops_per_s, 1),
            "p50_ms": round(self.pct(0.50), 2),
            "p99_ms": round(self.pct(0.99), 2),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 2) if self.latencies_ms else 0.0,
            **(self.cost.per_op(self.cost_ops or self.ops + self.errors) if self.cost else {}),
            **({"error_kinds": self.error_kinds} if self.error_kinds else {}),
        }


@dataclass
class Result:
    stats: Stats
    baseline: Stats | None = None
    baseline_name: str = "get_me"
    extra: dict[str, Any] = field(default_factory=dict)


async def measure(op: Callable[[int], Awaitable[Any]], *, total: int, concurrency: int) -> Stats:
    """Run ``op(i)`` for i in range(total) from ``concurrency`` tasks; time each call.

    An ``op`` that raises counts as an error (and still counts its latency)."""
    counter = itertools.count()
    latencies: list[float] = []
    kinds: dict[str, int] = {}

    async def worker() -> None:
        while (i := next(counter)) < total:
            t0 = time.perf_counter()
            try:
                await op(i)
            except HTTPStatusError as exc:
                kind = f"http_{exc.response.status_code}"
                kinds[kind] = kinds.get(kind, 0) + 1
            except Exception as exc:
                kinds[type(exc).__name__] = kinds.get(type(exc).__name__, 0) + 1
            latencies.append((time.perf_counter() - t0) * 1000)

    before = await METER.snapshot() if METER else None
    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    seconds = time.perf_counter() - start
    cost = (await METER.snapshot()) - before if METER and before else None
    errors = sum(kinds.values())
    return Stats(
        ops=total - errors,
        seconds=seconds,
        latencies_ms=latencies,
        errors=errors,
        error_kinds=kinds,
        cost=cost,
    )


@dataclass
class Person:
    id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Bench:
    def __init__(self, rt: Runtime, urls: Sequence[str], backend: str, workers: int, quick: bool) -> None:
        self.rt = rt
        self.urls = list(urls)
        self.backend = backend
        self.workers = workers
        self.quick = quick
        self._baselines: dict[int, Stats] = {}
        self._numbers = itertools.count(10_000_000)
        # The load generator (``scripts/benchhttp.py``): one client per worker, its
        # connections kept alive; ``clients[i % len(clients)]`` takes the workers in turn.
        self.client = Client(self.urls[0])
        self.clients = [Client(url) for url in self.urls]

    @property
    def url(self) -> str:
        return self.urls[0]

    @property
    def ws_url(self) -> str:
        return self.urls[0].replace("http://", "ws://")

    def scale(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    async def make_users(self, n: int, *, balance_fen: int = 0, cardholder: bool = True) -> list[Person]:
        """Insert ``n`` users with wallets (and a balance) straight into the database."""
        now = self.rt.clock.now()
        people: list[Person] = []
        async with self.rt.sessionmaker() as db, db.begin():
            rows, accounts = [], []
            for _ in range(n):
                i = next(self._numbers)
                uid = f"u_bench{i}"
                e164 = f"+86171{i:08d}"
                rows.append(
                    {
                        "id": uid,
                        "phone_hash": phones.phone_hash(e164, self.rt.settings.phone_hmac_key),
                        "phone_masked": phones.mask(e164),
                        "display_name": f"bench{i}",
                        "roles": "user",
                        "is_cardholder": cardholder,
                        "discoverable": True,
                        "language": "zh",
                        "created_at": now,
                    }
                )
                accounts.append(
                    {
                        "id": ledger.wallet_account(uid),
                        "kind": "wallet",
                        "owner_id": uid,
                        "balance_fen": 0,
                        "tracks_balance": True,
                        "created_at": now,
                    }
                )
                people.append(Person(uid, tokens.issue(self.rt.settings, uid)))
            await db.execute(User.__table__.insert(), rows)  # type: ignore[attr-defined]
            await db.execute(Account.__table__.insert(), accounts)  # type: ignore[attr-defined]
            if balance_fen:
                for p in people:
                    await ledger.post(
                        db,
                        kind="topup",
                        now=now,
                        ref_id=p.id,
                        entries=ledger.move(ledger.SETTLEMENT, ledger.wallet_account(p.id), balance_fen),
                    )
        return people

    async def baseline(self, concurrency: int, total: int | None = None) -> Stats:
        """The trivial authenticated GET at this concurrency (measured once per run)."""
        if concurrency not in self._baselines:
            [me] = await self.make_users(1)
            n = total or self.scale(4000, 500)
            clients = self.clients

            async def get_me(i: int) -> None:
                r = await clients[i % len(clients)].get("/v1/me", headers=me.headers)
                r.raise_for_status()

            await measure(get_me, total=min(200, n), concurrency=concurrency)  # warm-up
            self._baselines[concurrency] = await measure(get_me, total=n, concurrency=concurrency)
        return self._baselines[concurrency]

    def report(self, name: str, result: Result) -> dict[str, Any]:
        line: dict[str, Any] = {
            "scenario": name,
            "backend": self.backend,
            "workers": self.workers,
            **result.stats.summary(),
        }
        if result.baseline is not None:
            line["baseline"] = {"name": result.baseline_name, **result.baseline.summary()}
            if result.baseline.ops_per_s:
                line["ratio_vs_baseline"] = round(result.stats.ops_per_s / result.baseline.ops_per_s, 3)
        line.update(result.extra)
        print(json.dumps(line, ensure_ascii=False), flush=True)
        return line

    async def close(self) -> None:
        await self.client.aclose()
        for c in self.clients:
            await c.aclose()
