"""Alembic environment: async engine from Quanzi's settings, every feature's tables."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from app import features
from app.config import get_settings
from app.db import make_engine, metadata
from app.migrate import MIGRATE_LOCK

features.import_models()
config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
    )
    with context.begin_transaction():
        # One node migrates at a time; the others wait here, then find nothing to do
        # (Alembic reads the current revision after this point, in the same transaction).
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATE_LOCK})
        context.run_migrations()


async def _run_async() -> None:
    settings: Any = config.attributes.get("settings") or get_settings()
    engine = make_engine(settings)
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `quanzi migrate`")
run_migrations_online()
