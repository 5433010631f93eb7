#!/usr/bin/env python3
"""Recompute the capacity table of docs/capacity.md from a bench run's JSON lines.

    python scripts/bench.py baseline red_packet_storm transfers chat_groups feed \\
        --backend real --workers 2 > run.jsonl
    python scripts/capacity.py run.jsonl            # or: ... | python scripts/capacity.py
    python scripts/capacity.py run.jsonl --json     # the figures as one JSON object
    python scripts/capacity.py old.jsonl new.jsonl  # scenarios of the later run win

Each scenario's ``app_cpu_ms_per_op`` and ``db_cpu_ms_per_op`` (CPU milliseconds per
operation of the service workers and of the PostgreSQL backends) are multiplied by the
peak rate of the operation it stands for (``LOAD``), summed, and divided by the
utilisation target. Everything assumed is a constant below, named in docs/capacity.md.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from typing import Any

# -- the stated load (New Year's Eve peak) --------------------------------------------
MEMBERS = 10_000_000
ONLINE = 1_000_000
RED_PACKETS_SENT_PER_MIN = 50_000
RED_PACKETS_GRABBED_PER_MIN = 500_000
CHAT_MSGS_PER_S = 5_000

# -- assumptions ---------------------------------------------------------------------
PEAK_SECOND_FACTOR = 2.0  # the busiest second of a peak minute, against the minute's mean
UTILISATION_TARGET = 0.6  # plan cores to run at most this busy at that second
REQUESTS_PER_ONLINE_PER_MIN = 1.0  # other requests (wallet, feed, conversations) per online member
FEED_SHARE_OF_REQUESTS = 0.3  # of those, feed pages (costed at the feed scenario)
TRANSFERS_PER_MIN = 20_000  # person-to-person transfers at the peak
HEARTBEAT_S = 25.0  # WebSocket ping interval (ws_heartbeat_s)
HEARTBEAT_APP_CPU_MS = 0.05  # a ping/pong on an idle socket (no database)
SOCKETS_PER_CORE = 20_000  # idle WebSockets one service core holds (memory, wakeups)
# Redis commands per operation (gate scripts, fan-out publish, rate limits, presence),
# counted from the code paths: not measured by the bench.
REDIS_CMDS = {"grab": 3, "send_packet": 4, "chat": 3, "transfer": 2, "request": 1, "feed": 2}
REDIS_CMDS_PER_SHARD_S = 80_000  # one Redis shard (one core) at the utilisation target
PG_PRIMARY_MAX_CORES = 48  # the useful cores of the largest primary one buys (64-core box)
PG_COMMITS_PER_S_MAX = 30_000  # synchronous-commit WAL flushes one primary sustains (group commit)


@dataclass
class Op:
    name: str
    scenario: str  # the bench scenario whose cost stands for it
    per_s: float  # mean rate at the peak minute
    commits: float  # transactions committed per operation
    note: str


def load() -> list[Op]:
    requests = ONLINE * REQUESTS_PER_ONLINE_PER_MIN / 60
    return [
        Op("red packet grabbed", "red_packet_storm", RED_PACKETS_GRABBED_PER_MIN / 60, 1, "grab"),
        # No separate send scenario: a send is one ledger posting into escrow plus a
        # message, costed at a transfer (one posting, one message).
        Op("red packet sent", "transfers", RED_PACKETS_SENT_PER_MIN / 60, 1, "send_packet"),
        Op("transfer", "transfers", TRANSFERS_PER_MIN / 60, 1, "transfer"),
        Op("chat message", "chat_groups", CHAT_MSGS_PER_S, 0.1, "chat"),  # batched commits
        Op("feed page", "feed", requests * FEED_SHARE_OF_REQUESTS, 0, "feed"),
        Op("other request", "baseline", requests * (1 - FEED_SHARE_OF_REQUESTS), 0, "request"),
    ]


def read_runs(lines: list[str]) -> dict[str, dict[str, Any]]:
    """The last JSON line of each scenario."""
    found: dict[str, dict[str, Any]] = {}
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        row = json.loads(line)
        if "scenario" in row and "app_cpu_ms_per_op" in row:
            found[row["scenario"]] = row
    return found


def compute(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    missing = sorted({op.scenario for op in load()} - set(runs))
    if missing:
        raise SystemExit(f"the bench run lacks scenarios: {missing}")
    rows = []
    app_ms = db_ms = redis_cmds = commits = 0.0
    for op in load():
        r = runs[op.scenario]
        peak = op.per_s * PEAK_SECOND_FACTOR
        a, d = float(r["app_cpu_ms_per_op"]), float(r["db_cpu_ms_per_op"])
        rows.append(
            {
                "operation": op.name,
                "scenario": op.scenario,
                "peak_per_s": round(peak),
                "app_cpu_ms": a,
                "db_cpu_ms": d,
                "app_cores": round(peak * a / 1000, 1),
                "db_cores": round(peak * d / 1000, 1),
            }
        )
        app_ms += peak * a
        db_ms += peak * d
        redis_cmds += peak * REDIS_CMDS[op.note]
        commits += peak * op.commits
    heartbeat_cores = ONLINE / HEARTBEAT_S * HEARTBEAT_APP_CPU_MS / 1000
    app_cores_busy = app_ms / 1000 + heartbeat_cores
    service_cores = math.ceil(max(app_cores_busy / UTILISATION_TARGET, ONLINE / SOCKETS_PER_CORE))
    db_cores = math.ceil(db_ms / 1000 / UTILISATION_TARGET)
    shards = math.ceil(redis_cmds / REDIS_CMDS_PER_SHARD_S)
    return {
        "rows": rows,
        "heartbeat_cores": round(heartbeat_cores, 1),
        "service_cores_busy": round(app_cores_busy, 1),
        "service_cores": service_cores,
        "sockets_bound_cores": math.ceil(ONLINE / SOCKETS_PER_CORE),
        "db_cores_busy": round(db_ms / 1000, 1),
        "db_cores": db_cores,
        "db_commits_per_s": round(commits),
        "one_primary_enough": db_cores <= PG_PRIMARY_MAX_CORES and commits <= PG_COMMITS_PER_S_MAX,
        "redis_cmds_per_s": round(redis_cmds),
        "redis_shards": max(shards, 3),  # a cluster has at least three masters
        "bench": {k: {"workers": v.get("workers"), "backend": v.get("backend")} for k, v in runs.items()},
    }


def markdown(c: dict[str, Any]) -> str:
    out = [
        "| operation | bench scenario | peak /s | app CPU ms/op | DB CPU ms/op | service cores | PostgreSQL cores |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    for r in c["rows"]:
        out.append(
            f"| {r['operation']} | {r['scenario']} | {r['peak_per_s']:,} | {r['app_cpu_ms']} | "
            f"{r['db_cpu_ms']} | {r['app_cores']} | {r['db_cores']} |"
        )
    out += [
        f"| WebSocket heartbeats | — | {round(ONLINE / HEARTBEAT_S):,} | {HEARTBEAT_APP_CPU_MS} | 0 | "
        f"{c['heartbeat_cores']} | 0 |",
        f"| **busy at the peak second** | | | | | **{c['service_cores_busy']}** | **{c['db_cores_busy']}** |",
        "",
        f"- service cores at {UTILISATION_TARGET:.0%} utilisation: **{c['service_cores']}** "
        f"(at least {c['sockets_bound_cores']} to hold {ONLINE:,} sockets at {SOCKETS_PER_CORE:,} per core)",
        f"- PostgreSQL cores at {UTILISATION_TARGET:.0%}: **{c['db_cores']}**, "
        f"~{c['db_commits_per_s']:,} commits/s; one primary "
        + ("is enough" if c["one_primary_enough"] else "is **not** enough")
        + f" (limits assumed: {PG_PRIMARY_MAX_CORES} cores, {PG_COMMITS_PER_S_MAX:,} commits/s)",
        f"- Redis: ~{c['redis_cmds_per_s']:,} commands/s → **{c['redis_shards']}** shards "
        f"at {REDIS_CMDS_PER_SHARD_S:,} commands/s each",
    ]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "files", nargs="*", help="bench runs' JSON lines (default: stdin); a later file's scenario wins"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--doc", help="write the table into this file between its capacity markers")
    parser.add_argument("--source", default="", help="the run's description (commit, machine) for --doc")
    args = parser.parse_args()
    lines: list[str] = []
    for name in args.files:
        with open(name, encoding="utf-8") as f:
            lines += f.readlines()
    if not args.files:
        lines = sys.stdin.readlines()
    c = compute(read_runs(lines))
    if args.doc:
        write_doc(args.doc, markdown(c), args.source)
    print(json.dumps(c, ensure_ascii=False) if args.json else markdown(c))


BEGIN, END = "<!-- capacity:begin -->", "<!-- capacity:end -->"


def write_doc(path: str, table: str, source: str) -> None:
    """Replace what is between the capacity markers of ``path`` with ``table``."""
    with open(path, encoding="utf-8") as f:
        doc = f.read()
    head, _, rest = doc.partition(BEGIN)
    _, _, tail = rest.partition(END)
    note = f"Bench run: {source}.\n\n" if source else ""
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{head}{BEGIN}\n{note}{table}\n{END}{tail}")


if __name__ == "__main__":
    main()
