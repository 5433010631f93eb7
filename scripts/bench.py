#!/usr/bin/env python3
"""Run named benchmark scenarios against a server started here, on loopback.

    python scripts/bench.py                          # every scenario, embedded backend, 1 worker
    python scripts/bench.py topup --backend real --workers 2
    python scripts/bench.py --list
    python scripts/bench.py --quick                  # small sizes: a smoke run

``--backend embedded`` uses a fresh database on the embedded PostgreSQL server (as the
service does by default, durable settings) and in-process Redis (one worker only);
``--backend real`` a fresh database on the PostgreSQL server at 127.0.0.1:5432 and Redis
on :6379 under a fresh key prefix. Prints one JSON line per scenario (see scripts/benchlib.py).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import embedded_pg  # noqa: E402
from app.config import Settings  # noqa: E402
from app.runtime import build_runtime  # noqa: E402
from scripts import benchlib  # noqa: E402
from scripts.benchcost import CostMeter  # noqa: E402
from scripts.benches import MODULES  # noqa: E402
from scripts.benchlib import Bench  # noqa: E402
from tests.support import backends  # noqa: E402
from tests.support.servers import running_servers  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/0"


def all_scenarios() -> dict[str, object]:
    found: dict[str, object] = {}
    for name in MODULES:
        found.update(importlib.import_module(f"scripts.benches.{name}").SCENARIOS)
    return found


def main() -> None:
    scenarios = all_scenarios()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", help="scenarios to run (default: all)")
    parser.add_argument("--backend", choices=["embedded", "real"], default="embedded")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    if args.list:
        print("\n".join(scenarios))
        return
    unknown = [n for n in args.names if n not in scenarios]
    if unknown:
        sys.exit(f"unknown scenarios: {unknown}; known: {list(scenarios)}")
    if args.backend == "embedded" and args.workers != 1:
        sys.exit("the embedded backend runs one worker (memory:// Redis is in-process)")
    run_id = uuid.uuid4().hex[:8]
    data_dir = Path(tempfile.mkdtemp(prefix="quanzi-bench-"))
    admin = PG if args.backend == "real" else embedded_pg.start(ROOT / "var" / "bench-postgres")
    db_url, drop = backends.create_database(run_id, admin)
    settings = Settings(
        env="test",
        data_dir=data_dir,
        database_url=db_url,
        redis_url=REDIS if args.backend == "real" else "memory://",
        redis_prefix=f"qzb:{run_id}:",
        log_level="WARNING",
    )
    backends.migrate(settings)
    try:
        asyncio.run(run(settings, args, scenarios))
    finally:
        if args.backend == "real":
            backends.drop_redis_prefix(REDIS, f"qzb:{run_id}:")
        drop()


async def run(settings: Settings, args: argparse.Namespace, scenarios: dict[str, object]) -> None:
    rt = build_runtime(settings)
    try:
        async with rt.sessionmaker() as db, db.begin():
            from app.ledger import service as ledger

            await ledger.open_system_accounts(db, rt.clock.now())
        # A worker's own pool, as in production (the tests' servers keep theirs small).
        pool = {"QUANZI_DB_POOL_SIZE": str(settings.db_pool_size)}
        async with running_servers(settings, count=args.workers, extra_env=pool) as servers:
            urls = [s.url for s in servers]
            benchlib.METER = CostMeter([s.proc.pid for s in servers if s.proc], urls, settings.database_url)
            bench = Bench(rt, urls, args.backend, args.workers, args.quick)
            try:
                for name in args.names or list(scenarios):
                    result = await scenarios[name](bench)  # type: ignore[operator]
                    bench.report(name, result)
            finally:
                await bench.close()
    finally:
        await rt.close()


if __name__ == "__main__":
    main()
