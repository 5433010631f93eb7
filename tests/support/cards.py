"""The bank's side of card linking, for tests: signed card tokens and service headers."""

from __future__ import annotations

import itertools
from datetime import datetime

from app.auth import cards
from app.runtime import Runtime

_refs = itertools.count(1)


def card_token(
    rt: Runtime,
    user_id: str,
    *,
    card_ref: str | None = None,
    valid_s: int = 600,
    key: str | None = None,
    now: datetime | None = None,
) -> str:
    """A card token the bank signed for ``user_id``, valid ``valid_s`` seconds of business
    time from ``now`` (the runtime's clock); ``key`` to sign with another key."""
    at = now or rt.clock.now()
    return cards.sign(
        key=key or rt.settings.card_token_key,
        card_ref=card_ref or f"card-ref-{next(_refs)}",
        user_id=user_id,
        exp=int(at.timestamp()) + valid_s,
    )


def service_headers(rt: Runtime) -> dict[str, str]:
    """What the bank's core sends: the service token."""
    return {"Authorization": f"Bearer {rt.settings.service_token}"}
