"""Liveness, readiness (database, Redis, schema revision) and metrics."""

from __future__ import annotations

import os

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from sqlalchemy import text

from app import migrate
from app.deps import Rt
from app.exposure import guard

router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(rt: Rt) -> JSONResponse:
    """Ready when the database and Redis answer and the schema is at this release's revision
    (an unmigrated database is 503, not a 500 at the first login)."""
    checks: dict[str, str] = {}
    try:
        async with rt.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
            checks["schema"] = (await migrate.schema_state(conn)).describe()
    except Exception as exc:  # readiness reports any failure rather than raising it
        checks.setdefault("database", f"error: {type(exc).__name__}")
        checks.setdefault("schema", "unknown: the database did not answer")
    try:
        await rt.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status_code=200 if ready else 503
    )


@router.get("/metrics", dependencies=[Depends(guard("metrics"))], response_class=PlainTextResponse)
async def metrics() -> Response:
    """Prometheus text; public, behind the service token, or off (``metrics_access``)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
