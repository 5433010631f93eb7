"""The FastAPI application: ``create_app()`` wires settings, runtime, features and jobs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import structlog
from fastapi import FastAPI

from app import features
from app.config import Settings, get_settings
from app.errors import install_handlers
from app.features import Job
from app.observability import ObservabilityMiddleware, configure_logging
from app.runtime import Runtime, build_runtime

log = structlog.get_logger()


class ClockSyncMiddleware:
    """Dev/test with several workers: read the shared dev-clock offset before each request."""

    def __init__(self, app: Any, get_rt: Any) -> None:
        self.app = app
        self.get_rt = get_rt

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            rt = self.get_rt()
            if rt is not None:
                await rt.sync_clock()
        await self.app(scope, receive, send)


async def _run_job(rt: Runtime, job: Job) -> None:
    while True:
        await asyncio.sleep(job.interval_s)
        try:
            await rt.sync_clock()
            await job.run(rt)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job_failed", job=job.name)


def create_app(
    settings: Settings | None = None, runtime: Runtime | None = None, run_jobs: bool = True
) -> FastAPI:
    settings = settings or (runtime.settings if runtime else get_settings())
    configure_logging(settings.log_level, settings.log_json)
    features.import_models()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or build_runtime(settings)
        app.state.rt = rt
        await rt.hub.start()
        tasks = (
            [asyncio.create_task(_run_job(rt, job), name=job.name) for job in features.jobs()]
            if run_jobs
            else []
        )
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if runtime is None:
                await rt.close()
            else:
                await rt.hub.close()

    app = FastAPI(
        title="Quanzi",
        version="0.1.0",
        description="Social-finance features behind a bank's mobile app. Contract: shared/API.md.",
        lifespan=lifespan,
    )
    app.state.rt = runtime
    install_handlers(app)
    for router in features.routers():
        app.include_router(router)
    if settings.is_dev and not settings.redis_url.startswith("memory://"):
        app.add_middleware(ClockSyncMiddleware, get_rt=lambda: getattr(app.state, "rt", None))
    app.add_middleware(ObservabilityMiddleware)
    return app


def app_factory() -> FastAPI:
    """The entry point uvicorn imports in each worker (``app.main:app_factory``)."""
    return create_app()
