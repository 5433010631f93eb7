"""The suggestions use case: load the 2-hop ego graph, rank it off the event loop, filter.

Queries: my friends; the edges of my friends (the second hop); my contact edges in both
directions; the exclusions (pending requests, blocks). The ranking itself
(``social.friends.suggest``) runs in a worker thread. Non-discoverable users are
filtered on the ranked head only, so no query ever carries every friend-of-friend.
"""

from __future__ import annotations

from typing import Any

import anyio
from sqlalchemy import select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.models import User
from app.db import end_read
from social.contacts.models import ContactEdge
from social.friends import suggest
from social.friends.models import Friendship
from social.friends.schemas import Reason, SuggestionPublic
from social.friends.service import blocked_ids, friend_ids, pending_peer_ids

_SECOND_HOP_PG = (
    "SELECT user_lo, user_hi FROM friendships WHERE user_lo = ANY($1::varchar[]) "
    "UNION ALL SELECT user_lo, user_hi FROM friendships WHERE user_hi = ANY($1::varchar[])"
)


async def _second_hop(db: AsyncSession, friends: list[str]) -> list[tuple[str, str]]:
    """Every edge of my friends (the 2-hop ego graph's edges)."""
    if not friends:
        return []
    if db.get_bind().dialect.name == "postgresql":
        # ~90 000 rows for 300 × 300: the driver's records directly, without ORM row processing.
        conn = await db.connection()
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        return [(r[0], r[1]) for r in await driver.fetch(_SECOND_HOP_PG, friends)]
    edges: list[tuple[str, str]] = []
    for i in range(0, len(friends), 500):
        chunk = friends[i : i + 500]
        q = union_all(
            select(Friendship.user_lo, Friendship.user_hi).where(col(Friendship.user_lo).in_(chunk)),
            select(Friendship.user_lo, Friendship.user_hi).where(col(Friendship.user_hi).in_(chunk)),
        )
        edges.extend((str(a), str(b)) for a, b in (await db.execute(q)).all())
    return edges


async def suggestions(db: AsyncSession, *, user_id: str, limit: int) -> list[SuggestionPublic]:
    """Friends-of-friends and contacts I may know, best first (see ``suggest``)."""
    friends = await friend_ids(db, user_id)
    edges = await _second_hop(db, friends)
    my_contacts = set(
        (await db.execute(select(ContactEdge.contact_id).where(ContactEdge.owner_id == user_id))).scalars()
    )
    has_me = set(
        (await db.execute(select(ContactEdge.owner_id).where(ContactEdge.contact_id == user_id))).scalars()
    )
    exclude = await blocked_ids(db, user_id) | await pending_peer_ids(db, user_id)

    graph: Any = None
    want = limit
    out: list[SuggestionPublic] = []
    while True:

        def _rank(want: int = want, exclude: set[str] = exclude) -> list[suggest.Suggestion]:
            nonlocal graph
            if graph is None:  # built once, in the worker thread
                graph = suggest.ego_graph(user_id, edges)
            return suggest.rank(
                graph, user_id, my_contacts=my_contacts, has_me=has_me, exclude=exclude, limit=want
            )

        ranked = await anyio.to_thread.run_sync(_rank)
        ids = [s.user_id for s in ranked]
        shown = {
            u.id: u
            for u in (
                await db.execute(select(User).where(col(User.id).in_(ids), col(User.discoverable).is_(True)))
            ).scalars()
        }
        out = []
        for s in ranked:
            u = shown.get(s.user_id)
            if u is None:
                continue
            reasons = []
            if s.mutual_friends:
                reasons.append(Reason(kind="mutual_friends", count=s.mutual_friends))
            if s.in_contacts:
                reasons.append(Reason(kind="in_contacts"))
            out.append(
                SuggestionPublic(
                    user_id=u.id,
                    display_name=u.display_name,
                    avatar_url=u.avatar_url,
                    reasons=reasons,
                    score=s.score,
                )
            )
            if len(out) == limit:
                break
        if len(out) >= limit or len(ranked) < want:
            break
        exclude |= {s.user_id for s in ranked if s.user_id not in shown}
        want = limit * 4
    await end_read(db)
    return out
