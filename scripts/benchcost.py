"""What an operation costs, read off the machine rather than off a stopwatch.

A ``CostMeter`` snapshots, before and after a measured run:

- the CPU time of the service's worker processes, from ``/proc/<pid>/schedstat``;
- the CPU time of the PostgreSQL backends connected to the run's database (their pids from
  ``pg_stat_activity``; a backend that starts during the run counts from zero, one that
  exits during it loses its last slice, rare with the service's connection pool);
- the service's round trips to PostgreSQL (``quanzi_db_round_trips_total`` on each
  worker's ``/metrics``: statements, BEGIN, COMMIT, ROLLBACK).

Divided by the operations of the run, these move much less than throughput does when other
work shares the machine: they are what to compare between a scenario and its baseline.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import anyio
import httpx
import psycopg

TICKS_PER_S = os.sysconf("SC_CLK_TCK")
ROUND_TRIPS = re.compile(r'^quanzi_db_round_trips_total\{kind="(\w+)"\} ([0-9.e+]+)$', re.M)


def cpu_ms(pid: int) -> float:
    """CPU milliseconds a live process has run, its live threads (0 once it is gone).

    From ``/proc/<pid>/task/*/schedstat`` (nanoseconds on a CPU), precise where ``/proc/<pid>/stat``
    counts in 10 ms ticks; the ticks where schedstat is missing."""
    try:
        total = 0
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        return total / 1e6
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) * 1000 / TICKS_PER_S  # utime, stime


@dataclass
class Cost:
    app_cpu_ms: float
    db_cpu_ms: float
    round_trips: float
    by_kind: dict[str, float] = field(default_factory=dict)

    def per_op(self, ops: int) -> dict[str, float]:
        n = max(ops, 1)
        return {
            "app_cpu_ms_per_op": round(self.app_cpu_ms / n, 3),
            "db_cpu_ms_per_op": round(self.db_cpu_ms / n, 3),
            "round_trips_per_op": round(self.round_trips / n, 2),
        }


@dataclass
class Snapshot:
    app_ms: float
    db_ms: dict[int, float]
    trips: dict[str, float]

    def __sub__(self, before: Snapshot) -> Cost:
        kinds = {k: v - before.trips.get(k, 0.0) for k, v in self.trips.items()}
        return Cost(
            app_cpu_ms=self.app_ms - before.app_ms,
            db_cpu_ms=sum(ms - before.db_ms.get(pid, 0.0) for pid, ms in self.db_ms.items()),
            round_trips=sum(kinds.values()),
            by_kind=kinds,
        )


class CostMeter:
    def __init__(self, worker_pids: Sequence[int], worker_urls: Sequence[str], database_url: str) -> None:
        self.worker_pids = list(worker_pids)
        self.worker_urls = list(worker_urls)
        self.database_url = database_url.replace("postgresql+asyncpg://", "postgresql://")

    def _backends(self) -> list[int]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        return [pid for (pid,) in rows]

    async def _trips(self) -> dict[str, float]:
        total: dict[str, float] = {}
        async with httpx.AsyncClient(timeout=30) as client:
            for url in self.worker_urls:
                text = (await client.get(url + "/metrics")).text
                for kind, value in ROUND_TRIPS.findall(text):
                    total[kind] = total.get(kind, 0.0) + float(value)
        return total

    async def snapshot(self) -> Snapshot:
        trips = await self._trips()  # first: the metrics scrape costs the workers a little CPU
        backends = await anyio.to_thread.run_sync(self._backends)
        return Snapshot(
            app_ms=sum(cpu_ms(pid) for pid in self.worker_pids),
            db_ms={pid: cpu_ms(pid) for pid in backends},
            trips=trips,
        )
