"""Creating, cleaning and dropping the test run's database and Redis keys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import text

from app import features
from app.config import Settings
from app.db import metadata, transaction
from app.ledger import service as ledger
from app.migrate import upgrade
from app.runtime import Runtime


def create_database(server_url: str | None, data_dir: Path, run_id: str) -> tuple[str, Callable[[], None]]:
    """A fresh database for this run and a function that drops it."""
    if not server_url:
        path = data_dir / "test.db"
        return f"sqlite:///{path}", lambda: None
    import psycopg

    name = f"quanzi_test_{run_id}"
    admin = server_url.replace("postgresql+asyncpg://", "postgresql://")
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        raise RuntimeError(f"PostgreSQL at {admin} is not reachable: {exc}") from exc
    parts = urlsplit(admin)
    db_url = urlunsplit(parts._replace(path=f"/{name}"))

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return db_url, drop


def check_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        raise RuntimeError(f"Redis at {url} is not reachable: {exc}") from exc


def drop_redis_prefix(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    batch = list(client.scan_iter(match=prefix + "*", count=1000))
    while batch:
        client.delete(*batch[:1000])
        batch = batch[1000:]


def migrate(settings: Settings) -> None:
    upgrade(settings)


async def clean_database(rt: Runtime) -> None:
    """Empty every table (children first) and reopen the system accounts."""
    features.import_models()
    async with rt.sessionmaker() as db, transaction(db):
        for table in reversed(metadata.sorted_tables):
            await db.execute(text(f'DELETE FROM "{table.name}"'))
        await ledger.open_system_accounts(db, rt.clock.now())
