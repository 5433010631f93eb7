"""An app and client of the test's runtime with other settings (trusted proxies, a base URL)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from app.main import create_app
from app.runtime import Runtime


@contextlib.asynccontextmanager
async def client_with(
    rt: Runtime, *, peer: str = "127.0.0.1", base_url: str = "http://test", **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a new app on ``rt`` whose settings are changed by ``settings``; requests
    come from the address ``peer``."""
    before = rt.settings
    rt.settings = before.model_copy(update=settings)
    try:
        application = create_app(runtime=rt, run_jobs=False)
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application, client=(peer, 50000))
            async with httpx.AsyncClient(transport=transport, base_url=base_url) as c:
                yield c
    finally:
        rt.settings = before
