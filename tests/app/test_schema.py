"""The schema revision: migrate once when nodes start together, refuse a schema this
release does not know, report an unmigrated database as not ready; the dev clock survives
a restart."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from app import migrate
from app.config import Settings
from app.main import create_app
from app.runtime import build_runtime
from tests.support import backends

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def empty_db(settings: Settings) -> Iterator[Settings]:
    """Settings on a database of its own that nobody has migrated."""
    url, drop = backends.create_database(f"empty_{uuid.uuid4().hex[:8]}")
    try:
        yield settings.model_copy(update={"database_url": url})
    finally:
        drop()


def quanzi(settings: Settings, *args: str, **extra_env: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANZI_")}
    env.update(
        {
            "QUANZI_ENV": settings.env,
            "QUANZI_DATABASE_URL": settings.database_url,
            "QUANZI_DATA_DIR": str(settings.data_dir),
            "QUANZI_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
            **extra_env,
        }
    )
    return subprocess.Popen(
        [sys.executable, "-c", "from app.cli import main; main()", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def finished(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = await asyncio.to_thread(proc.communicate, timeout=120)
    return proc.returncode, out, err


async def readiness(settings: Settings) -> httpx.Response:
    rt = build_runtime(settings)
    application = create_app(runtime=rt, run_jobs=False)
    try:
        async with (
            application.router.lifespan_context(application),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://t") as c,
        ):
            return await c.get("/readyz")
    finally:
        await rt.close()


async def test_an_unmigrated_database_is_not_ready_until_migrated(empty_db):
    r = await readiness(empty_db)
    assert r.status_code == 503
    assert r.json()["checks"]["schema"].startswith("not migrated")
    await asyncio.to_thread(migrate.upgrade, empty_db)
    r = await readiness(empty_db)
    assert r.status_code == 200 and r.json()["checks"]["schema"] == "ok"


async def test_nodes_that_migrate_together_migrate_once(empty_db):
    procs = [quanzi(empty_db, "migrate") for _ in range(3)]
    results = await asyncio.gather(*(finished(p) for p in procs))
    assert [code for code, _, _ in results] == [0, 0, 0], [err for _, _, err in results]
    rt = build_runtime(empty_db)
    try:
        async with rt.engine.connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    finally:
        await rt.close()
    assert versions == [migrate.head()]


async def test_a_node_refuses_to_serve_a_schema_it_does_not_know(empty_db):
    await asyncio.to_thread(migrate.upgrade, empty_db)
    rt = build_runtime(empty_db)
    try:
        async with rt.engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
        application = create_app(runtime=rt, run_jobs=False)
        with pytest.raises(migrate.SchemaUnknown, match="9999_from_the_future"):
            async with application.router.lifespan_context(application):
                pass
    finally:
        await rt.close()
    code, out, err = await finished(quanzi(empty_db, "serve", "--port", "1"))
    assert code == 2
    assert err.strip().count("\n") == 0 and "refusing to serve" in err and "9999_from_the_future" in err
    assert "Traceback" not in err + out


async def test_the_dev_clock_offset_survives_a_restart(settings, rt):
    await rt.advance_clock(3 * 3600, moved_by="u_tester")
    restarted = build_runtime(settings)  # a fresh process: clock at zero, Redis empty
    application = create_app(runtime=restarted, run_jobs=False)
    try:
        assert restarted.clock.offset_s == 0
        async with application.router.lifespan_context(application):
            assert restarted.clock.offset_s == rt.clock.offset_s >= 3 * 3600
    finally:
        await restarted.close()
