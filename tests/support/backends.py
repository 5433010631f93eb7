"""The test run's database and Redis: created, cleaned per test, dropped at the end.

- Database: ``QUANZI_TEST_DATABASE_URL`` names a PostgreSQL server (CI: the machine's);
  unset, the embedded server (``app/embedded_pg.py``) under ``var/test-postgres``, with
  durability off. Either way the run gets a fresh database of its own.
- Redis: tests run on ``memory://``; those marked ``real_backends`` (several processes
  sharing state, Redis behaviour itself) get the real Redis of ``QUANZI_TEST_REDIS_URL``
  (default ``redis://127.0.0.1:6379/0``) under a key prefix of their own.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from pathlib import Path

from app import embedded_pg, features
from app.config import Settings
from app.db import metadata, transaction
from app.ledger import service as ledger
from app.migrate import upgrade
from app.runtime import Runtime

ROOT = Path(__file__).resolve().parents[2]
# CI (``.ci/run``): what a developer's run may skip, CI's must run.
CI = os.environ.get("CI", "").lower() == "true"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def server_url() -> str:
    """The admin URL of the PostgreSQL server the run uses (started if embedded)."""
    configured = os.environ.get("QUANZI_TEST_DATABASE_URL")
    if configured:
        return configured.replace("postgresql+asyncpg://", "postgresql://")
    return embedded_pg.start(ROOT / "var" / "test-postgres", embedded_pg.TEST_CONF)


def create_database(run_id: str, admin: str | None = None) -> tuple[str, Callable[[], None]]:
    """A fresh database for this run (on ``admin``'s server, by default the test server)
    and a function that drops it."""
    admin = admin or server_url()
    name = f"quanzi_test_{run_id}"
    try:
        url = embedded_pg.create_database(admin, name, if_missing=False)
    except Exception as exc:
        raise RuntimeError(f"PostgreSQL at {admin} is not usable: {exc}") from exc
    return url, functools.partial(embedded_pg.drop_database, admin, name)


def redis_url() -> str:
    return os.environ.get("QUANZI_TEST_REDIS_URL") or DEFAULT_REDIS


@functools.cache
def redis_problem() -> str | None:
    """Why the real Redis cannot be used, or None when it answers."""
    import redis

    url = redis_url()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        return f"Redis at {url} is not reachable: {exc}"
    return None


def drop_redis_prefix(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    batch = list(client.scan_iter(match=prefix + "*", count=1000))
    while batch:
        client.delete(*batch[:1000])
        batch = batch[1000:]


def migrate(settings: Settings) -> None:
    upgrade(settings)


@functools.cache
def _clean_script() -> str:
    features.import_models()
    return "".join(f'DELETE FROM "{table.name}";' for table in reversed(metadata.sorted_tables))


async def clean_database(rt: Runtime) -> None:
    """Empty every table (children first, one round trip) and reopen the system accounts.

    The script is one implicit transaction; a row a previous test's last work commits
    meanwhile (a chat batch finishing as its runtime closes) can make a parent's DELETE
    fail on a child it has not emptied: the whole script rolls back and runs again."""
    import asyncpg

    async with rt.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        for attempt in range(5):
            try:
                await raw.driver_connection.execute(_clean_script())  # type: ignore[union-attr]
                break
            except asyncpg.ForeignKeyViolationError:
                if attempt == 4:
                    raise
                await asyncio.sleep(0.05)  # let that commit land (test infrastructure, not a rule)
    async with rt.sessionmaker() as db, transaction(db):
        await ledger.open_system_accounts(db, rt.clock.now())
