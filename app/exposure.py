"""Who may read the operator surfaces: the interactive docs and ``/metrics``.

``settings.exposure("docs" | "metrics")`` is ``public``, ``service_token`` (the bank's
service token as ``Authorization: Bearer …``; an operator's proxy or scraper adds it) or
``off`` (404, as if absent). Unset, both are public in dev/test and behind the service
token in prod.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import Request

from app.auth import tokens
from app.errors import NotFound, Unauthenticated


def guard(of: Literal["docs", "metrics"]) -> Callable[[Request], Awaitable[None]]:
    """A dependency that lets a request through as ``settings.exposure(of)`` says."""

    async def _check(request: Request) -> None:
        settings = request.app.state.settings
        exposure = settings.exposure(of)
        if exposure == "public":
            return
        if exposure == "off":
            raise NotFound()
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not tokens.is_service_token(settings, token.strip()):
            raise Unauthenticated(f"{of} need the service token")

    return _check
