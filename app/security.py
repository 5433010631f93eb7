"""Security headers on every HTTP response (a pure ASGI middleware).

- ``X-Content-Type-Options: nosniff`` everywhere;
- ``Cache-Control: no-store`` on responses that carry tokens or money
  (``/v1/auth/…``, ``/v1/wallet…``, ``/v1/me/cards``, ``/v1/bank/…``), so no cache or back button keeps them;
- ``Strict-Transport-Security`` when the request came over TLS. The scheme is what the
  server saw: uvicorn rewrites it from ``X-Forwarded-Proto`` only for the proxy
  addresses in ``trusted_proxies`` (``quanzi serve`` passes them as
  ``forwarded_allow_ips``), so a client cannot fake it.
"""

from __future__ import annotations

from typing import Any

NO_STORE_PREFIXES = ("/v1/auth/", "/v1/wallet", "/v1/me/cards", "/v1/bank/")


class SecurityHeadersMiddleware:
    def __init__(self, app: Any, hsts_max_age_s: int = 365 * 24 * 3600) -> None:
        self.app = app
        self.hsts = f"max-age={hsts_max_age_s}; includeSubDomains".encode() if hsts_max_age_s else b""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra: list[tuple[bytes, bytes]] = [(b"x-content-type-options", b"nosniff")]
        if scope["path"].startswith(NO_STORE_PREFIXES):
            extra.append((b"cache-control", b"no-store"))
        if scope.get("scheme") == "https" and self.hsts:
            extra.append((b"strict-transport-security", self.hsts))

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in extra}
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in names]
                message["headers"] = headers + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)
