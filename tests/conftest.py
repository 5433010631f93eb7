"""Test fixtures: one database per run, a clean slate per test (see ``support/backends``).

Tests run on PostgreSQL (the embedded server, or ``QUANZI_TEST_DATABASE_URL``) with the
in-process Redis; tests marked ``real_backends`` get the real Redis. Where it is not
reachable they are skipped, except under ``CI=true``, where the run fails instead.

Business time is a frozen clock that starts at ``support.clock.DEFAULT_START``, or at the
instant of the test's ``@pytest.mark.clock_start(...)`` (see ``support/clock.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from app.config import Settings
from tests.support import backends, nodes, redis_cluster
from tests.support.clock import DEFAULT_START

CI = backends.CI

# Property tests check rules, not speed: on a loaded 2-core machine an example may take
# longer than hypothesis's 200 ms deadline, and generation may be slow to start.
hypothesis_settings.register_profile("quanzi", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("quanzi")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _mark_unusable(items, "redis_cluster", redis_cluster.cluster_problem)
    _mark_unusable(items, "nginx", nodes.nginx_problem)
    _mark_unusable(items, "real_backends", backends.redis_problem)


def _mark_unusable(items: list[pytest.Item], marker: str, find_problem: Callable[[], str | None]) -> None:
    """Skip the tests marked ``marker`` when ``find_problem`` says why they cannot run;
    under CI=true, fail the run instead."""
    wanting = [item for item in items if item.get_closest_marker(marker)]
    problem = find_problem() if wanting else None
    if problem is None:
        return
    if CI:
        raise pytest.UsageError(f"CI=true: {problem}")
    skip = pytest.mark.skip(reason=problem)
    for item in wanting:
        item.add_marker(skip)


@pytest.fixture(scope="session")
def base_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    data_dir: Path = tmp_path_factory.mktemp("quanzi")
    run_id = uuid.uuid4().hex[:10]
    db_url, drop = backends.create_database(run_id)
    settings = Settings(
        env="test",
        data_dir=data_dir,
        database_url=db_url,
        redis_url="memory://",
        redis_prefix=f"qzt:{run_id}:",
        log_level="WARNING",
        db_pool_size=10,  # two xdist workers, each with test servers, stay under 100 clients
        clock_start=DEFAULT_START,
    )
    backends.migrate(settings)
    try:
        yield settings
    finally:
        if backends.redis_problem() is None:
            backends.drop_redis_prefix(backends.redis_url(), settings.redis_prefix)
        drop()


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A three-master Redis Cluster for the run, started when a test first needs it."""
    cluster = redis_cluster.start_cluster(tmp_path_factory.mktemp("redis-cluster"))
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture
def settings(base_settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """The run's settings with a Redis key prefix of the test's own; the real Redis for
    tests marked ``real_backends``; the business clock's start of ``clock_start``."""
    update: dict[str, object] = {"redis_prefix": f"{base_settings.redis_prefix}{uuid.uuid4().hex[:8]}:"}
    if request.node.get_closest_marker("redis_cluster"):
        update["redis_url"] = request.getfixturevalue("redis_cluster_url")
    elif request.node.get_closest_marker("real_backends"):
        update["redis_url"] = backends.redis_url()
    start = request.node.get_closest_marker("clock_start")
    if start is not None:
        update["clock_start"] = start.args[0]
    return base_settings.model_copy(update=update)


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
