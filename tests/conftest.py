"""Test fixtures: one schema per run, a clean slate per test, on either backend.

Backends come from the environment:
- ``QUANZI_TEST_DATABASE_URL`` — a PostgreSQL server URL (e.g.
  ``postgresql://postgres@127.0.0.1:5432/postgres``): each run creates its own database
  there and drops it afterwards. Unset: a SQLite file in a temporary folder.
- ``QUANZI_TEST_REDIS_URL`` — ``redis://127.0.0.1:6379/0``: each test uses its own key
  prefix. Unset: ``memory://``.
- ``QUANZI_TEST_REQUIRE_REAL=1`` (set by CI): the real backends must be reachable, or
  the run fails rather than skips.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from app.config import Settings
from tests.support import backends

pytest_plugins = ["anyio"]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def base_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    data_dir: Path = tmp_path_factory.mktemp("quanzi")
    run_id = uuid.uuid4().hex[:10]
    db_url, drop = backends.create_database(os.environ.get("QUANZI_TEST_DATABASE_URL"), data_dir, run_id)
    redis_url = os.environ.get("QUANZI_TEST_REDIS_URL", "memory://")
    if os.environ.get("QUANZI_TEST_REQUIRE_REAL") == "1":
        assert db_url.startswith("postgresql"), "CI requires PostgreSQL (QUANZI_TEST_DATABASE_URL)"
        assert redis_url.startswith("redis://"), "CI requires Redis (QUANZI_TEST_REDIS_URL)"
    if redis_url.startswith("redis://"):
        backends.check_redis(redis_url)
    settings = Settings(
        env="test",
        data_dir=data_dir,
        database_url=db_url,
        redis_url=redis_url,
        redis_prefix=f"qzt:{run_id}:",
        log_level="WARNING",
        db_pool_size=20,
    )
    backends.migrate(settings)
    try:
        yield settings
    finally:
        if redis_url.startswith("redis://"):
            backends.drop_redis_prefix(redis_url, f"qzt:{run_id}:")
        drop()


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return base_settings.model_copy(
        update={"redis_prefix": f"{base_settings.redis_prefix}{uuid.uuid4().hex[:8]}:"}
    )


@pytest.fixture
async def rt(settings: Settings) -> AsyncIterator[object]:
    from app.runtime import build_runtime

    runtime = build_runtime(settings)
    await backends.clean_database(runtime)
    try:
        yield runtime
    finally:
        await runtime.close()


@pytest.fixture
async def app(rt: object) -> AsyncIterator[object]:
    from app.main import create_app

    application = create_app(runtime=rt, run_jobs=False)  # type: ignore[arg-type]
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: object) -> AsyncIterator[object]:
    import httpx

    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
def users(rt: object, client: object) -> object:
    """Make users: ``alice = await users.make("alice", balance_fen=10_000)``."""
    from tests.support.people import People

    return People(rt, client)  # type: ignore[arg-type]
