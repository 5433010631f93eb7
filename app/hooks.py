"""In-process hooks by which core use cases let features react, inside the same transaction.

Core code must not import feature packages; a feature registers here instead, e.g.
referrals reward the referrer when a referee first becomes a cardholder:

    hooks.on_first_card.append(reward_referrer)

A hook is ``async def hook(db, rt, user_id) -> None`` and runs inside the caller's
transaction (flush, never commit).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Hook = Callable[[Any, Any, str], Awaitable[None]]

on_user_created: list[Hook] = []
on_first_card: list[Hook] = []


async def fire(hooks: list[Hook], db: Any, rt: Any, user_id: str) -> None:
    for hook in hooks:
        await hook(db, rt, user_id)
