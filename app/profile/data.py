"""A member's data: export everything held about them, or erase the account.

Every part of the service that holds personal data registers a section
(``app.hooks.register_personal_data``): the platform's ``account`` (``app.auth``),
``wallet`` (ledger lines) and ``profile`` (consents, events, tags), and each feature's
own (chat messages sent, posts, game state, …). ``export`` asks each for its section;
``erase`` asks each to erase, features first, then the profile, the wallet (a remaining
balance goes back to the bank's settlement account, so Σ stays 0) and last the account
row, which stays, pseudonymised, so ledger lines and other members' chats still resolve.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app import hooks
from app.auth import service as auth
from app.db import transaction
from app.errors import NotFound
from app.runtime import Runtime

EXPORT_FORMAT = "quanzi.export/1"
PLATFORM = ("account", "wallet", "profile")  # exported first, erased last (account the very last)


def _sections() -> list[hooks.PersonalData]:
    platform = [hooks.personal_data[n] for n in PLATFORM if n in hooks.personal_data]
    return platform + [p for n, p in hooks.personal_data.items() if n not in PLATFORM]


async def export(db: AsyncSession, rt: Runtime, *, user_id: str) -> dict[str, Any]:
    """Everything held about the member, one section per part of the service."""
    body: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "user_id": user_id,
        "exported_at": rt.clock.now().isoformat(),
    }
    async with transaction(db):  # one snapshot of every section
        for section in _sections():
            body[section.name] = await section.export(db, rt, user_id)
    return body


async def erase(db: AsyncSession, rt: Runtime, *, user_id: str) -> None:
    """Erase the account in one transaction (locks the user row first). Raises NotFound."""
    async with transaction(db):
        if not await auth.lock_profiles(db, [user_id]):
            raise NotFound("user not found")
        for section in reversed(_sections()):
            if section.erase is not None:
                await section.erase(db, rt, user_id)
