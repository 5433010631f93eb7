#!/usr/bin/env python3
"""Fuzz the served API with schemathesis, as an attacker and a careless client would.

    .venv/bin/pip install -e '.[fuzz]'               # once: schemathesis (not in the lock)
    .venv/bin/python scripts/fuzz.py                 # every operation, 30 examples each
    .venv/bin/python scripts/fuzz.py -n 100 --include-path-regex '^/v1/red-packets'

Starts a real server on loopback (a fresh database on the embedded PostgreSQL server,
in-process Redis, ``QUANZI_ENV=test``), makes two users with money and cards and
friendship, and runs ``st run`` against ``/openapi.json`` with every check, twice: with a
user's token (every route) and with the service token (the bank's and partners' routes). Extra
arguments go to ``st run``. The run fails when schemathesis finds a failure: a 5xx, a
response its operation does not document, a body that does not match its schema…
Reports land in ``var/fuzz/``.

Left out on purpose: ``positive_data_acceptance`` (the service refuses, by design, some
values that the JSON Schema cannot rule out — a NUL in any text, ``130.0`` for integer fen,
a number that is not a phone number, a cursor it did not issue); and, as the user, the
two operations that end the user's session (``DELETE /v1/me``, ``POST /v1/auth/logout``),
which would turn every later request into a 401.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import embedded_pg  # noqa: E402
from app.config import Settings  # noqa: E402
from app.runtime import build_runtime  # noqa: E402
from scripts.benchlib import Bench  # noqa: E402
from tests.support import backends  # noqa: E402
from tests.support.servers import running_servers  # noqa: E402

ST = Path(sys.executable).with_name("st")
# The bank's and partners' routes, called with the service token.
SERVICE_PATHS = r"^/v1/(bank|events|payments|scenarios|merchant)(/|$)"
SESSION_ENDERS = ["--exclude-name", "DELETE /v1/me", "--exclude-name", "POST /v1/auth/logout"]


async def fuzz(settings: Settings, extra: list[str]) -> int:
    rt = build_runtime(settings)
    try:
        async with rt.sessionmaker() as db, db.begin():
            from app.ledger import service as ledger

            await ledger.open_system_accounts(db, rt.clock.now())
        async with running_servers(settings, count=1) as [server]:
            bench = Bench(rt, [server.url], "embedded", 1, quick=True)
            try:
                alice, bob = await bench.make_users(2, balance_fen=100_000)
                async with rt.sessionmaker() as db, db.begin():
                    from social.friends import service as friends

                    await friends.make_friends(db, alice.id, bob.id, now=rt.clock.now())
            finally:
                await bench.close()
            out = ROOT / "var" / "fuzz"
            out.mkdir(parents=True, exist_ok=True)
            code = 0
            service_paths = ["--include-path-regex", SERVICE_PATHS]
            for who, header, only in (
                ("user", f"Authorization: Bearer {alice.token}", SESSION_ENDERS),
                ("service", f"Authorization: Bearer {settings.service_token}", service_paths),
            ):
                cmd = [
                    str(ST),
                    "run",
                    f"{server.url}/openapi.json",
                    "--checks",
                    "all",
                    "--exclude-checks",
                    "positive_data_acceptance",
                    "--max-examples",
                    "30",
                    "--header",
                    header,
                    "--seed",
                    "1",
                    "--report",
                    "junit",
                    "--report-junit-path",
                    str(out / f"{who}.xml"),
                    *only,
                    *extra,
                ]
                print(f"\n=== as the {who} ===", flush=True)
                code |= await asyncio.to_thread(lambda c=cmd: subprocess.run(c, cwd=ROOT).returncode)
            return code
    finally:
        await rt.close()


def main() -> None:
    run_id = uuid.uuid4().hex[:8]
    admin = embedded_pg.start(ROOT / "var" / "bench-postgres")
    db_url, drop = backends.create_database(f"fuzz_{run_id}", admin)
    settings = Settings(
        env="test",
        data_dir=Path(tempfile.mkdtemp(prefix="quanzi-fuzz-")),
        database_url=db_url,
        redis_url="memory://",
        redis_prefix=f"qzf:{run_id}:",
        log_level="WARNING",
    )
    backends.migrate(settings)
    try:
        sys.exit(asyncio.run(fuzz(settings, sys.argv[1:])))
    finally:
        drop()


if __name__ == "__main__":
    main()
