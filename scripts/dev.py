#!/usr/bin/env python3
"""The everyday commands, needing only Python 3.11 to start.

    python3 scripts/dev.py demo    # set up .venv, migrate, seed demo data, serve on :8000
    python3 scripts/dev.py test    # set up .venv, lint, type-check, run the suite on every backend
    python3 scripts/dev.py bench   # run the benchmarks (scripts/bench.py)

``test`` runs the suite on the embedded defaults (SQLite file, in-process Redis) and
then on real PostgreSQL and Redis (127.0.0.1:5432, :6379, or QUANZI_TEST_DATABASE_URL /
QUANZI_TEST_REDIS_URL). With CI=true the real backends are required: unreachable is a
failure, not a skip.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"


def run(*cmd: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    result = subprocess.run([str(c) for c in cmd], cwd=ROOT, env={**os.environ, **(env or {})})
    if result.returncode != 0:
        sys.exit(result.returncode)


def ensure_venv() -> None:
    stamp = VENV / ".installed"
    pyproject = ROOT / "pyproject.toml"
    if not (BIN / "python").exists():
        venv.create(VENV, with_pip=True)
    if not stamp.exists() or stamp.stat().st_mtime < pyproject.stat().st_mtime:
        run(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        run(BIN / "python", "-m", "pip", "install", "--quiet", "-e", ".[dev]")
        stamp.touch()


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def demo() -> None:
    ensure_venv()
    os.execv(str(BIN / "quanzi"), [str(BIN / "quanzi"), "demo", *sys.argv[2:]])


def test() -> None:
    ensure_venv()
    ci = os.environ.get("CI", "").lower() == "true"
    extra = sys.argv[2:]
    run(BIN / "ruff", "check", "app", "social", "games", "content", "tests", "scripts")
    run(BIN / "ruff", "format", "--check", "app", "social", "games", "content", "tests", "scripts")
    run(BIN / "mypy")
    print("\n=== suite on the embedded defaults (SQLite + in-process Redis) ===", flush=True)
    run(BIN / "pytest", *extra, env={"QUANZI_TEST_DATABASE_URL": "", "QUANZI_TEST_REDIS_URL": "memory://"})
    pg = os.environ.get("QUANZI_TEST_DATABASE_URL") or PG_URL
    redis = os.environ.get("QUANZI_TEST_REDIS_URL") or REDIS_URL
    if not (reachable("127.0.0.1", 5432) and reachable("127.0.0.1", 6379)) and not os.environ.get(
        "QUANZI_TEST_DATABASE_URL"
    ):
        if ci:
            sys.exit("CI=true: PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) must be reachable")
        print("\n(PostgreSQL/Redis not reachable on 127.0.0.1: skipping the real-backend run)")
        return
    print("\n=== suite on PostgreSQL + Redis ===", flush=True)
    run(
        BIN / "pytest",
        *extra,
        env={
            "QUANZI_TEST_DATABASE_URL": pg,
            "QUANZI_TEST_REDIS_URL": redis,
            "QUANZI_TEST_REQUIRE_REAL": "1" if ci else "0",
        },
    )


def bench() -> None:
    ensure_venv()
    os.execv(str(BIN / "python"), [str(BIN / "python"), str(ROOT / "scripts" / "bench.py"), *sys.argv[2:]])


if __name__ == "__main__":
    commands = {"demo": demo, "test": test, "bench": bench}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]]()
