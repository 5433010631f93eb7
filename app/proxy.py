"""Trusted reverse proxies: their forwarding headers are believed, nobody else's.

``TrustedProxyMiddleware`` is uvicorn's ``ProxyHeadersMiddleware`` (the client address
from ``X-Forwarded-For``, the scheme from ``X-Forwarded-Proto``) mounted inside the app,
so every server and the tests see the same rule, plus ``X-Forwarded-Host`` (kept in the
scope as ``FORWARDED_HOST`` for ``app.urls``). Only a direct peer listed in the
``trusted_proxies`` setting (addresses or networks) is believed; with the setting empty
the middleware is not mounted at all, and not even loopback is trusted. ``quanzi
serve`` turns uvicorn's own proxy handling off, so the headers are read once, here.
"""

from __future__ import annotations

from typing import Any

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

FORWARDED_HOST = "quanzi.forwarded_host"


class TrustedProxyMiddleware(ProxyHeadersMiddleware):
    def __init__(self, app: Any, trusted: list[str]) -> None:
        super().__init__(app, trusted_hosts=",".join(trusted))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            if client and client[0] in self.trusted_hosts:
                for name, value in scope["headers"]:
                    if name == b"x-forwarded-host":
                        scope[FORWARDED_HOST] = value.decode("latin1").split(",")[0].strip()
                        break
        await super().__call__(scope, receive, send)


def client_address(scope: Any) -> str:
    """The client's address as the app sees it (after a trusted proxy's X-Forwarded-For)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
