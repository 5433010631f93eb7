"""A small time series of the service's own metrics, for the operations dashboard.

The ``ops_sample`` job (run by one worker of the deployment at a time) reads the service's
Prometheus metrics (``app.metrics``, ``app.observability``) every ``SAMPLE_S`` seconds —
the whole deployment's when the workers share a multiprocess directory (``quanzi serve
--workers N``), else its own process's — and adds what changed since its previous sample
into two sets of Redis hashes: one per minute (kept 2 hours, for "the last hour") and one
per ten minutes (kept 26 hours, for "the last day"). Counters go in as increments
(HINCRBYFLOAT), gauges (queue depth, open sockets) as values.

Why Redis and not PostgreSQL: the series is expendable (a lost sample is a gap in a
chart, not lost business data; DESIGN.md keeps such things in Redis), it is written by
every worker every few seconds (atomic increments, no row to contend on, no write
amplification in the database that serves the money paths), and it trims itself by
expiry instead of needing a cleanup job.

Bucket times follow the business clock (``rt.clock``), so tests move time instead of
waiting.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, multiprocess

from app import metrics
from app.observability import REQUESTS
from app.runtime import Runtime, Slot

SAMPLE_S = 10.0
# This worker's counters at its previous sample (what the next sample subtracts).
LAST: Slot[dict[str, float]] = Slot("ops.last_sample", lambda rt: {})


@dataclass(frozen=True)
class Resolution:
    name: str
    step_s: int
    buckets: int  # how many a chart shows
    keep_s: int


HOUR = Resolution("hour", 60, 60, 2 * 3600)
DAY = Resolution("day", 600, 144, 26 * 3600)
RESOLUTIONS = (HOUR, DAY)

# Counter series: name → (metric, label filter or None).
COUNTERS: dict[str, Any] = {
    "messages": metrics.MESSAGES,
    "red_packets_sent": metrics.RED_PACKETS_SENT,
    "red_packet_grabs": metrics.RED_PACKET_GRABS,
    "transfers": metrics.TRANSFERS,
    "refunds": metrics.REFUNDS_SWEPT,
    "energy_g": metrics.ENERGY_COLLECTED,
    "otp_sent": metrics.OTP_SENT,
}
WORKER = f"{socket.gethostname()}:{os.getpid()}"


def _families() -> dict[str, Any]:
    """The metric families by name: the whole deployment's when workers share a
    multiprocess directory (the sampler runs on one worker), else this process's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        found = list(registry.collect())
    else:
        sources = [
            *COUNTERS.values(),
            REQUESTS,
            metrics.FAMILY_LATENCY,
            metrics.MODERATION_QUEUE,
            metrics.WS_OPEN,
        ]
        found = [family for metric in sources for family in metric.collect()]
    return {family.name: family for family in found}


def _total(families: dict[str, Any], name: str, suffix: str = "_total", where: Any = None) -> float:
    family = families.get(name)
    if family is None:
        return 0.0
    return sum(
        s.value for s in family.samples if s.name.endswith(suffix) and (where is None or where(s.labels))
    )


def snapshot() -> dict[str, float]:
    """The cumulative counters and latency buckets, as flat fields, and the gauges."""
    families = _families()
    out = {f"c:{name}": _total(families, metric._name) for name, metric in COUNTERS.items()}
    out["c:http"] = _total(families, REQUESTS._name)
    out["c:http_5xx"] = _total(
        families, REQUESTS._name, where=lambda labels: labels.get("status", "").startswith("5")
    )
    latency = families.get(metrics.FAMILY_LATENCY._name)
    for s in latency.samples if latency is not None else ():
        if s.name.endswith("_bucket"):
            out[f"h:{s.labels['family']}:{s.labels['le']}"] = s.value
    out["g:queue_depth"] = _total(families, metrics.MODERATION_QUEUE._name, suffix="depth")
    out["g:ws_open"] = _total(families, metrics.WS_OPEN._name, suffix="open")
    return out


def _bucket(at: datetime, res: Resolution) -> int:
    return int(at.timestamp()) // res.step_s


def _key(rt: Runtime, res: Resolution, bucket: int) -> str:
    return rt.keys("ops", "ts", res.name, bucket)


async def sample(rt: Runtime, now: datetime | None = None) -> dict[str, float]:
    """Add what changed since this worker's last sample to the current buckets; returns it."""
    now = now or rt.clock.now()
    current = snapshot()
    gauges = {
        "g:queue_depth": current.pop("g:queue_depth"),
        f"w:ws_open@{WORKER}": current.pop("g:ws_open"),
    }
    last = rt.slot(LAST)
    delta = {k: v - last.get(k, 0.0) for k, v in current.items() if v - last.get(k, 0.0) > 0}
    last.clear()
    last.update(current)
    async with rt.redis.pipeline(transaction=False) as pipe:
        for res in RESOLUTIONS:
            key = _key(rt, res, _bucket(now, res))
            for name, value in delta.items():
                pipe.hincrbyfloat(key, name, value)
            pipe.hset(key, mapping=gauges)
            pipe.expire(key, res.keep_s)
        await pipe.execute()
    return delta


@dataclass
class Series:
    """The buckets of one resolution up to now, oldest first."""

    res: Resolution
    starts: list[datetime]
    rows: list[dict[str, float]] = field(default_factory=list)

    def counter(self, name: str) -> list[float]:
        return [row.get(f"c:{name}", 0.0) for row in self.rows]

    def per_second(self, name: str) -> list[float]:
        return [round(v / self.res.step_s, 3) for v in self.counter(name)]

    def gauge(self, name: str) -> list[float | None]:
        return [row.get(f"g:{name}") for row in self.rows]

    def worker_sum(self, name: str) -> list[float | None]:
        out: list[float | None] = []
        for row in self.rows:
            values = [v for k, v in row.items() if k.startswith(f"w:{name}@")]
            out.append(sum(values) if values else None)
        return out

    def error_rate(self) -> list[float | None]:
        """Share of HTTP answers that were 5xx, per bucket (None without traffic)."""
        return [
            round(row.get("c:http_5xx", 0.0) / row["c:http"], 4) if row.get("c:http") else None
            for row in self.rows
        ]

    def families(self) -> list[str]:
        return sorted({k.split(":")[1] for row in self.rows for k in row if k.startswith("h:")})

    def latency_buckets(
        self, family: str, rows: Iterable[dict[str, float]] | None = None
    ) -> list[tuple[float, float]]:
        """(upper bound, cumulative count) of a family's latency over the given buckets."""
        sums: dict[float, float] = {}
        prefix = f"h:{family}:"
        for row in self.rows if rows is None else rows:
            for k, v in row.items():
                if k.startswith(prefix):
                    le = float(k[len(prefix) :])
                    sums[le] = sums.get(le, 0.0) + v
        return sorted(sums.items())

    def p99(self, family: str) -> float | None:
        """The 99th percentile latency of a family over the whole window, in seconds."""
        return quantile(0.99, self.latency_buckets(family))

    def p99_series(self, family: str) -> list[float | None]:
        return [quantile(0.99, self.latency_buckets(family, [row])) for row in self.rows]

    def total(self, name: str) -> float:
        return sum(self.counter(name))


def quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """The ``q`` quantile from cumulative histogram buckets (upper bound, count), as
    Prometheus's ``histogram_quantile`` estimates it: linear within the bucket where the
    rank falls; the largest finite bound when it falls in the +Inf bucket. None without data."""
    if not buckets:
        return None
    total = buckets[-1][1]
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


async def read(rt: Runtime, res: Resolution, now: datetime | None = None) -> Series:
    """The last ``res.buckets`` buckets up to now."""
    now = now or rt.clock.now()
    last = _bucket(now, res)
    buckets = list(range(last - res.buckets + 1, last + 1))
    async with rt.redis.pipeline(transaction=False) as pipe:
        for b in buckets:
            pipe.hgetall(_key(rt, res, b))
        raw = await pipe.execute()
    return Series(
        res=res,
        starts=[datetime.fromtimestamp(b * res.step_s, UTC) for b in buckets],
        rows=[{k: float(v) for k, v in (r or {}).items()} for r in raw],
    )
