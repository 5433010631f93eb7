"""Absolute URLs the service hands out (media, referral share links, posters): built here, once.

With ``public_base_url`` set, every absolute URL starts with it (the right choice in
production, behind a CDN or a gateway that rewrites hosts). Unset, a URL starts with what
the client used to reach the service: the request's scheme and ``Host`` — behind a proxy
listed in ``trusted_proxies``, its ``X-Forwarded-Proto`` and ``X-Forwarded-Host``
(``app.proxy``). ``RequestBaseMiddleware`` records that base for the request (a context
variable), so services build URLs without knowing about HTTP. Outside a request (jobs,
CLI) the fallback is ``http://127.0.0.1:8000``.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from typing import Any

from app.config import Settings
from app.proxy import FORWARDED_HOST

FALLBACK_BASE = "http://127.0.0.1:8000"
_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")
_request_base: ContextVar[str | None] = ContextVar("quanzi_request_base", default=None)


def base_url(settings: Settings) -> str:
    """The scheme and authority absolute URLs start with (no trailing slash)."""
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    return _request_base.get() or FALLBACK_BASE


def absolute(settings: Settings, path: str) -> str:
    """``path`` (starting with ``/``) as an absolute URL."""
    return base_url(settings) + path


def request_base(scope: Any) -> str | None:
    """``scheme://host[:port]`` of an HTTP or WebSocket scope, or None when its host is unusable."""
    scheme = {"ws": "http", "wss": "https"}.get(scope.get("scheme", "http"), scope.get("scheme", "http"))
    if scheme not in ("http", "https"):
        return None
    host = scope.get(FORWARDED_HOST)
    if not host:
        host = next((v.decode("latin1") for k, v in scope.get("headers", ()) if k == b"host"), None)
    if not host:
        server = scope.get("server")
        if not server:
            return None
        name, port = server[0], server[1]
        host = name if port is None else f"{name}:{port}"
    if not _HOST.match(host):
        return None
    default_port = ":443" if scheme == "https" else ":80"
    return f"{scheme}://{host.removesuffix(default_port).lower()}"


class RequestBaseMiddleware:
    """Records the request's base URL for ``base_url`` while the request runs."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        token = _request_base.set(request_base(scope))
        try:
            await self.app(scope, receive, send)
        finally:
            _request_base.reset(token)
