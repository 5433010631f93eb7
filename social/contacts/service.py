"""Private contact discovery: which of my address book's numbers are discoverable cardholders.

A sync normalises every number to E.164 (default region from settings), hashes it with
the server's HMAC key (``app.auth.phones.phone_hash``, the same keyed hash users are
stored under) and looks the hashes up in ``users.phone_hash``. Only discoverable
cardholders match; never the caller, never a user blocked either way. Matches are kept
as ``contact_edges`` (for suggestions); the numbers themselves, matched or not, and the
names the client gave them are not stored anywhere, and nothing is logged.

Enumeration defence (after Signal's contact discovery): a per-user token bucket in
Redis (``contacts_bucket_capacity`` tokens, refilling ``contacts_bucket_refill_per_day``
a day). Each distinct number in a sync that is not already one of my stored matches
costs one token, charged before any lookup; a sync that cannot pay is refused whole
with ``rate_limited`` and a ``Retry-After``. Since unmatched numbers are not kept, an
unmatched number costs again on every sync; the daily refill is sized so that an
honest address book re-syncs daily without trouble.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
from sqlalchemy import Select, String, Subquery, bindparam, delete, func, literal, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import phones
from app.auth import service as auth
from app.db import end_read, transaction
from app.dbtypes import UTCDateTime
from app.errors import ValidationFailed
from app.ratelimit import token_bucket
from app.runtime import Runtime
from social.contacts.models import ContactEdge
from social.contacts.schemas import ContactIn
from social.friends.service import blocked_ids, friend_ids

_edges = ContactEdge.__table__  # type: ignore[attr-defined]


def edges_sql() -> Subquery:
    """Address-book matches as a subquery named ``contact_edges`` (``owner_id`` has
    ``contact_id`` in their address book, since ``created_at``), for other features'
    statements (friend suggestions score them)."""
    return select(_edges.c.owner_id, _edges.c.contact_id, _edges.c.created_at).subquery("contact_edges")


_SEPARATORS = re.compile(r"[\s\-().]")
_CN_MOBILE = re.compile(r"(?:\+86|0086|86)?(1[3-9][0-9]{9})")


def e164(raw: str, region: str) -> str | None:
    """E.164 form of an address-book entry: mainland mobiles ("138 0013 8000", "+86 138-0013-8000",
    "0086…") by a fast path, everything else by ``app.auth.phones.normalise``."""
    if region == "CN":
        m = _CN_MOBILE.fullmatch(_SEPARATORS.sub("", raw))
        if m is not None:
            return "+86" + m.group(1)
    return phones.normalise(raw, region)


def hash_contacts(contacts: list[ContactIn], *, region: str, key: str) -> dict[str, str | None]:
    """phone hash → the first name given for it, for every valid number (CPU-bound)."""
    mac = hmac.new(key.encode(), digestmod=hashlib.sha256)
    out: dict[str, str | None] = {}
    for c in contacts:
        number = e164(c.phone, region)
        if number is None:
            continue
        h = mac.copy()
        h.update(number.encode())
        digest = h.hexdigest()
        if digest not in out or (out[digest] is None and c.name):
            out[digest] = c.name
    return out


async def _remember(db: AsyncSession, *, owner_id: str, contact_ids: list[str], now: datetime) -> None:
    """Store owner → contact edges, keeping the ones already there."""
    # One statement with three parameters, however many matches (unnest of an array).
    edges = select(
        literal(owner_id, String),
        func.unnest(bindparam("ids", contact_ids, type_=ARRAY(String))),
        literal(now, UTCDateTime()),
    )
    insert = pg_insert(ContactEdge).from_select(["owner_id", "contact_id", "created_at"], edges)
    await db.execute(insert.on_conflict_do_nothing(index_elements=["owner_id", "contact_id"]))


@dataclass(frozen=True)
class Match:
    """A discoverable cardholder found in my address book."""

    profile: auth.Profile
    contact_name: str | None  # the name my address book gives them (never stored)
    is_friend: bool


@dataclass(frozen=True)
class Synced:
    matches: list[Match]
    checked: int  # distinct valid numbers in the request
    charged: int  # numbers that counted against the rate limit


def _my_contacts(user_id: str) -> Select[tuple[str]]:
    return select(ContactEdge.contact_id).where(ContactEdge.owner_id == user_id)


async def sync(db: AsyncSession, rt: Runtime, *, user_id: str, contacts: list[ContactIn]) -> Synced:
    """Match my address book against discoverable cardholders and remember the matches.

    Raises ValidationFailed (too many numbers), RateLimited (token bucket spent)."""
    limit = rt.settings.contacts_sync_max
    if len(contacts) > limit:
        raise ValidationFailed(f"at most {limit} contacts per sync", field="contacts", max=limit)
    wanted = await anyio.to_thread.run_sync(
        functools.partial(
            hash_contacts,
            contacts,
            region=rt.settings.default_phone_region,
            key=rt.settings.phone_hmac_key,
        )
    )
    known = await auth.phone_hashes(db, _my_contacts(user_id))
    await end_read(db)
    new = [h for h in wanted if h not in known]
    if new:
        capacity = rt.settings.contacts_bucket_capacity
        await token_bucket(
            rt.redis,
            rt.keys("contacts", "bucket", user_id),
            capacity=capacity,
            refill_per_s=rt.settings.contacts_bucket_refill_per_day / 86_400,
            cost=min(len(new), capacity),
        )
    now = rt.clock.now()
    async with transaction(db):
        excluded = await blocked_ids(db, user_id)
        found = await auth.discoverable_cardholders(db, wanted, except_id=user_id)
        matched = sorted(((h, u) for h, u in found.items() if u.id not in excluded), key=lambda hu: hu[1].id)
        if matched:
            await _remember(db, owner_id=user_id, contact_ids=[u.id for _, u in matched], now=now)
        friends = set(await friend_ids(db, user_id)) if matched else set()
    return Synced(
        matches=[Match(u, wanted.get(h), u.id in friends) for h, u in matched],
        checked=len(wanted),
        charged=len(new),
    )


async def stored_matches(db: AsyncSession, *, user_id: str) -> list[Match]:
    """My remembered matches that still qualify (discoverable cardholders, not blocked)."""
    found = await auth.profiles(db, (await db.execute(_my_contacts(user_id))).scalars())
    excluded = await blocked_ids(db, user_id)
    friends = set(await friend_ids(db, user_id))
    await end_read(db)
    return [
        Match(u, None, u.id in friends)
        for _, u in sorted(found.items())
        if u.is_cardholder and u.discoverable and u.id not in excluded
    ]


async def forget(db: AsyncSession, *, user_id: str) -> int:
    """Delete every match I synced (e.g. when I revoke address-book access)."""
    async with transaction(db):
        result = await db.execute(delete(ContactEdge).where(ContactEdge.owner_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


# -- a member's data (app/profile) --------------------------------------------------------


async def personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> dict[str, Any]:
    """The matches remembered from the member's address book (their export's ``contacts``
    section): only members who matched; the numbers themselves were never stored."""
    rows = (
        await db.execute(
            select(ContactEdge.contact_id, ContactEdge.created_at)
            .where(ContactEdge.owner_id == user_id)
            .order_by(ContactEdge.created_at, ContactEdge.contact_id)
        )
    ).all()
    return {"matches": [{"user_id": c, "since": at.isoformat()} for c, at in rows]}


async def erase_personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> None:
    """An erased member's address-book matches are deleted both ways: theirs, and their
    place in others' (so they are suggested to nobody)."""
    await db.execute(
        delete(ContactEdge).where(or_(ContactEdge.owner_id == user_id, ContactEdge.contact_id == user_id))
    )
