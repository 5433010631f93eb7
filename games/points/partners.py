"""The partner programmes' side of an exchange: one HTTP adapter with a timeout.

``exchange`` sends ``POST {base}/exchanges`` with the exchange's id as the
``Idempotency-Key`` (and in the body), and reads the answer as one of three outcomes:

- ``confirmed`` (2xx with ``{"status": "confirmed", "ref": …}``): booked by the partner;
- ``refused`` (2xx with ``{"status": "refused"}``, or a 4xx other than 408/409/425/429):
  a definitive no — the held points are released;
- ``unknown`` (a timeout, a connection error, 408/409/425/429, 5xx, an unreadable body):
  the partner may or may not have booked it; the exchange stays pending and is sent again
  with the same key, which the partner must treat as the same request.

Where each programme is reached is deployment configuration
(``QUANZI_POINTS_PARTNER_URLS``, a JSON object of programme id → base URL); a programme
without one is not connected (exchanges refused up front).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import httpx
import structlog

from app.runtime import Runtime

log = structlog.get_logger()

_RETRYABLE = {408, 409, 425, 429}


@dataclass(frozen=True)
class Answer:
    outcome: Literal["confirmed", "refused", "unknown"]
    partner_ref: str | None = None
    reason: str | None = None


def base_url(rt: Runtime, programme_id: str) -> str | None:
    return rt.settings.points_partner_urls.get(programme_id)


async def exchange(
    rt: Runtime, *, programme_id: str, key: str, member_no: str, direction: str, amount: int
) -> Answer:
    """Ask the partner to book one exchange (``amount`` in its points). Never raises for
    what the network or the partner does: that is an ``unknown`` answer."""
    url = base_url(rt, programme_id)
    if url is None:
        return Answer("unknown", reason="not_connected")
    body = {"key": key, "member_no": member_no, "direction": direction, "amount": amount}
    try:
        async with httpx.AsyncClient(base_url=url, timeout=rt.settings.points_partner_timeout_s) as client:
            r = await client.post("/exchanges", json=body, headers={"Idempotency-Key": key})
    except httpx.HTTPError as exc:  # timeouts, refused connections, broken responses
        log.info("points_partner_unreachable", programme=programme_id, key=key, error=type(exc).__name__)
        return Answer("unknown", reason=type(exc).__name__)
    if r.status_code >= 500 or r.status_code in _RETRYABLE:
        return Answer("unknown", reason=f"http_{r.status_code}")
    try:
        data = r.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        data = {}
    if r.status_code >= 400:
        return Answer("refused", reason=str(data.get("reason") or f"http_{r.status_code}")[:120])
    status = data.get("status")
    if status == "confirmed":
        ref = data.get("ref")
        return Answer("confirmed", partner_ref=str(ref)[:64] if ref is not None else None)
    if status == "refused":
        return Answer("refused", reason=str(data.get("reason") or "refused")[:120])
    return Answer("unknown", reason="unreadable_answer")
