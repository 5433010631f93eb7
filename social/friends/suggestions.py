"""The suggestions use case: the ranking of ``social.friends.suggest``, computed in SQL.

One statement does the whole ranking on either backend, so the ego graph never leaves
the database (300 friends with 300 friends each is 90 000 edges):

1. ``f``: my friends (both directions of the pair table).
2. ``w``: each friend's Adamic–Adar weight 1/ln(degree), the degree counted on the
   primary key and the (user_hi, user_lo) index (index-only, no edge is returned).
3. ``c``: one row per (mutual friend, candidate) edge carrying that weight, plus one
   row per "in my contacts" and per "has me in contacts" edge.
4. ``s``: grouped by candidate: score, mutual-friend count, in-contacts flag.
5. Exclusions (myself, friends, blocks either way, pending requests either way) are
   removed from the grouped rows, and the best ``k`` kept (ORDER BY … LIMIT).

Non-discoverable users are filtered on that head only, through the users' primary key
(joining every candidate to ``users`` would cost more than the ranking); if too many of
the head were hidden, the statement runs again with a larger ``k``. The order is score
rounded to 6 decimals (the shown precision, so float summation order cannot reorder
equal scores), then user id.

The ranked head (``CACHE_K`` candidates, before the discoverable filter) is kept in
Redis for ``suggestions_cache_s`` business-clock seconds, stamped with a fingerprint of
my own edges (count and newest ``created_at`` of my friendships and contact edges in
both directions). A call within that time, with the same fingerprint, re-applies the
exclusions and the discoverable filter to the cached head in one small query and skips
the ranking; so a user I just befriended, blocked or asked never shows, and my own new
friends and contacts are seen at once. Changes two hops away (a friend's new friend)
show within the cache time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Subquery, TextClause, bindparam, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth
from app.db import after_commit, end_read
from app.runtime import Runtime
from social.contacts import service as contacts
from social.friends import suggest
from social.friends.models import RequestStatus

CACHE_K = 80  # candidates kept per user: suggestions_max (50) and room for exclusions


@dataclass(frozen=True)
class Suggested:
    user_id: str
    display_name: str
    avatar_url: str | None
    badge: str | None
    score: float
    mutual_friends: int
    in_contacts: bool


def _inline(owned: Subquery) -> str:
    """Another feature's relation (``contacts.edges_sql()``, ``auth.profiles_sql()``) as SQL
    text for the statements below; PostgreSQL flattens it into the plain table."""
    return f"({owned.element.compile(dialect=postgresql.dialect())})"


_EDGES = _inline(contacts.edges_sql())
_PROFILES = _inline(auth.profiles_sql())
_PENDING = f"'{RequestStatus.PENDING.value}'"

_MINE = f"""
f AS MATERIALIZED (
    SELECT user_hi AS fid FROM friendships WHERE user_lo = :me
    UNION ALL SELECT user_lo FROM friendships WHERE user_hi = :me
),
x AS MATERIALIZED (
    SELECT fid AS xid FROM f
    UNION ALL SELECT CAST(:me AS VARCHAR(40))
    UNION ALL SELECT blocked_id FROM blocks WHERE blocker_id = :me
    UNION ALL SELECT blocker_id FROM blocks WHERE blocked_id = :me
    UNION ALL SELECT to_id FROM friend_requests WHERE from_id = :me AND status = {_PENDING}
    UNION ALL SELECT from_id FROM friend_requests WHERE to_id = :me AND status = {_PENDING}
)"""

_FINGERPRINT = text(f"""
WITH mine AS (
    SELECT created_at FROM friendships WHERE user_lo = :me
    UNION ALL SELECT created_at FROM friendships WHERE user_hi = :me
    UNION ALL SELECT created_at FROM {_EDGES} e WHERE e.owner_id = :me
    UNION ALL SELECT created_at FROM {_EDGES} e WHERE e.contact_id = :me
)
SELECT count(*), max(created_at) FROM mine
""")


_FRESH = text(f"""
WITH {_MINE}
SELECT u.id, u.display_name, u.avatar_url, u.roles FROM {_PROFILES} u
WHERE u.id IN :ids AND u.discoverable AND u.id NOT IN (SELECT xid FROM x)
""").bindparams(bindparam("ids", expanding=True))
"""The cached candidates still to show: not excluded now, discoverable now."""

_SUGGEST: TextClause = text(f"""
WITH {_MINE},
d AS MATERIALIZED (
    SELECT fid, (SELECT count(*) FROM friendships WHERE user_lo = f.fid)
              + (SELECT count(*) FROM friendships WHERE user_hi = f.fid) AS deg
    FROM f
),
w AS MATERIALIZED (
    SELECT fid, 1.0 / ln(CAST(deg AS DOUBLE PRECISION)) AS aa FROM d WHERE deg > 1
),
c AS (
    SELECT e.user_hi AS vid, w.aa, 1 AS mutual, 0 AS in_c, 0 AS has_me
        FROM w JOIN friendships e ON e.user_lo = w.fid
    UNION ALL SELECT e.user_lo, w.aa, 1, 0, 0
        FROM w JOIN friendships e ON e.user_hi = w.fid
    UNION ALL SELECT e.contact_id, 0.0, 0, 1, 0 FROM {_EDGES} e WHERE e.owner_id = :me
    UNION ALL SELECT e.owner_id, 0.0, 0, 0, 1 FROM {_EDGES} e WHERE e.contact_id = :me
),
s AS (
    SELECT vid,
           sum(aa) + CAST(:in_contacts AS DOUBLE PRECISION) * sum(in_c)
                   + CAST(:has_me_w AS DOUBLE PRECISION) * sum(has_me) AS score,
           sum(mutual) AS mutual,
           sum(in_c) AS in_c
    FROM c GROUP BY vid
),
t AS (
    SELECT vid, score, mutual, in_c, round(score * 1000000) AS rank_key FROM s
    WHERE vid NOT IN (SELECT xid FROM x)
    ORDER BY rank_key DESC, vid
    LIMIT :k
)
SELECT t.vid, t.score, t.mutual, t.in_c, u.discoverable, u.display_name, u.avatar_url, u.roles
FROM t JOIN {_PROFILES} u ON u.id = t.vid
ORDER BY t.rank_key DESC, t.vid
""")


def cache_key(rt: Runtime, user_id: str) -> str:
    return rt.keys("suggest", user_id)


async def forget(db: AsyncSession, rt: Runtime, user_id: str) -> None:
    """An erased member's cached suggestions go (after commit). Others' cached heads drop
    them by themselves: an erased account is not discoverable."""
    after_commit(db, lambda: rt.redis.delete(cache_key(rt, user_id)))


async def suggestions(db: AsyncSession, rt: Runtime, *, user_id: str, limit: int) -> list[Suggested]:
    """Friends-of-friends and contacts I may know, best first (see ``suggest``)."""
    conn = await db.connection()
    ttl = rt.settings.suggestions_cache_s
    key = cache_key(rt, user_id)
    fingerprint = ""
    if ttl:
        count, newest = (await db.execute(_FINGERPRINT, {"me": user_id})).one()
        fingerprint = f"{count}|{newest}"
        head = await _cached(rt, key, fingerprint)
        if head is not None:
            shown = await _still_shown(db, user_id=user_id, head=head)
            if len(shown) >= limit or len(head) < CACHE_K:
                await end_read(db)
                return shown[:limit]
    # The statement's cost estimate grows with the friend count past jit_above_cost, and
    # compiling it (~100-150 ms) costs more than running it.
    await conn.exec_driver_sql("SET LOCAL jit = off")
    k = max(CACHE_K, limit + 8)
    while True:
        params = {"me": user_id, "k": k, "in_contacts": suggest.IN_CONTACTS, "has_me_w": suggest.HAS_ME}
        rows = (await db.execute(_SUGGEST, params)).all()
        out = [
            _suggested(r.vid, r.score, r.mutual, r.in_c, r.display_name, r.avatar_url, r.roles)
            for r in rows
            if r.discoverable
        ]
        # Fewer rows than k: every candidate was seen. Otherwise hidden users may have
        # pushed visible ones past k; look further.
        if len(out) >= limit or len(rows) < k:
            break
        k *= 4
    await end_read(db)
    if ttl:
        entry = {
            "fp": fingerprint,
            "at": rt.clock.now().timestamp(),
            "head": [[r.vid, float(r.score), int(r.mutual), int(r.in_c)] for r in rows[:CACHE_K]],
        }
        await rt.redis.set(key, json.dumps(entry), ex=ttl + 5)
    return out[:limit]


async def _cached(rt: Runtime, key: str, fingerprint: str) -> list[list[Any]] | None:
    raw = await rt.redis.get(key)
    if raw is None:
        return None
    entry = json.loads(raw)
    fresh = rt.clock.now().timestamp() - entry["at"] < rt.settings.suggestions_cache_s
    return entry["head"] if fresh and entry["fp"] == fingerprint else None


async def _still_shown(db: AsyncSession, *, user_id: str, head: list[list[Any]]) -> list[Suggested]:
    if not head:
        return []
    found = await db.execute(_FRESH, {"me": user_id, "ids": [h[0] for h in head]})
    users = {r.id: r for r in found}
    return [
        _suggested(vid, score, mutual, in_c, users[vid].display_name, users[vid].avatar_url, users[vid].roles)
        for vid, score, mutual, in_c in head
        if vid in users
    ]


def _suggested(
    vid: str, score: float, mutual: int, in_c: int, display_name: str, avatar_url: str | None, roles: str
) -> Suggested:
    return Suggested(
        user_id=vid,
        display_name=display_name,
        avatar_url=avatar_url,
        badge=auth.badge_of_roles(roles),
        score=round(float(score), 6),
        mutual_friends=int(mutual),
        in_contacts=bool(in_c),
    )
