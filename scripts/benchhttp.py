"""The benchmarks' HTTP client: aiohttp behind the few calls the scenarios make.

The load generator shares the machine's cores with the service and PostgreSQL, so what
it spends per request is taken from them and shows in every latency figure. Measured
here (10 concurrent GETs of a 3 kB JSON answer, uvloop): httpx 0.87–0.94 ms of client
CPU per request, aiohttp 0.10–0.14 ms. Responses are read whole (``Reply``), the way the
scenarios used httpx's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from multidict import CIMultiDictProxy


class HTTPStatusError(Exception):
    """``Reply.raise_for_status`` for a 4xx or 5xx answer (``measure`` counts it by code)."""

    def __init__(self, response: Reply) -> None:
        super().__init__(f"HTTP {response.status_code}: {response.content[:200]!r}")
        self.response = response


@dataclass(frozen=True, slots=True)
class Reply:
    status_code: int
    headers: CIMultiDictProxy[str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode()

    def json(self) -> Any:
        return orjson.loads(self.content)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise HTTPStatusError(self)


class Client:
    """Requests to one server (``base_url``), its connections kept alive, as many as the
    concurrency asks for (a gateway in front of the service keeps them the same way)."""

    def __init__(self, base_url: str, *, timeout_s: float = 60) -> None:
        self._base = base_url.rstrip("/")
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60),
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            skip_auto_headers=("User-Agent",),
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Reply:
        body = None
        if json is not None:
            body = orjson.dumps(json)
            headers = {**(headers or {}), "Content-Type": "application/json"}
        url = path if path.startswith("http") else self._base + path
        async with self._session.request(method, url, headers=headers, data=body, params=params) as r:
            return Reply(r.status, r.headers, await r.read())

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> Reply:
        return await self.request("POST", path, **kw)

    async def put(self, path: str, **kw: Any) -> Reply:
        return await self.request("PUT", path, **kw)

    async def aclose(self) -> None:
        await self._session.close()
