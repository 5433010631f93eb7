"""Reading boards: the global top N, my friends' board (ZMSCORE over my friend list), my rank.

Privacy: a user who turned ``discoverable`` off keeps their rank on the global board, but
to anyone who is not their friend the row is anonymous (``user_id`` and ``display_name``
null, ``anonymous`` true), so a stranger cannot find them from it. Friends and the user
see the row as usual."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import String, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth
from app.auth.schemas import PersonCard
from app.db import execute
from app.errors import NotFound
from app.runtime import Runtime
from games.leaderboards import boards as _boards  # noqa: F401  (registers the steps board)
from games.leaderboards import registry, scores
from social.friends import service as friends

Scope = Literal["global", "friends"]
Period = Literal["day", "week", "all"]


@dataclass(frozen=True)
class Entry:
    rank: int
    user_id: str | None  # None: anonymous (not discoverable, not my friend)
    display_name: str | None
    badge: str | None
    score: float
    anonymous: bool = False
    user: PersonCard | None = None  # None when anonymous


@dataclass(frozen=True)
class Me:
    rank: int | None
    score: float


@dataclass(frozen=True)
class Board:
    board: str
    scope: str
    period: str
    bucket: str
    items: list[Entry]
    me: Me


@dataclass(frozen=True)
class _Shown:
    card: PersonCard

    @property
    def display_name(self) -> str:
        return self.card.display_name

    @property
    def badge(self) -> str | None:
        return self.card.badge


# Me and my friends with their names, built once: one IN over a union (an index lookup per
# id; "id = me OR id IN (…)" would scan users).
_users = auth.profiles_sql()
_ME_AND_FRIENDS_NAMED = select(_users.c.id, _users.c.display_name, _users.c.avatar_url, _users.c.roles).where(
    _users.c.id.in_(friends.friend_ids_query(bindparam("p_user", type_=String()), and_self=True))
)


async def _names_of_friends_and_me(db: AsyncSession, user_id: str) -> dict[str, _Shown]:
    rows: Any = await execute(db, _ME_AND_FRIENDS_NAMED, {"p_user": user_id})
    named = {
        row[0]: _Shown(
            PersonCard(id=row[0], display_name=row[1], avatar_url=row[2], badge=auth.badge_of_roles(row[3]))
        )
        for row in rows
    }
    named.setdefault(user_id, _Shown(PersonCard(id=user_id, display_name="", avatar_url=None, badge=None)))
    return named


async def _shown_globally(db: AsyncSession, *, user_id: str, ids: list[str]) -> dict[str, _Shown | None]:
    """How ``ids`` appear to ``user_id`` on a global board: named, or None (anonymous: not
    discoverable and not my friend)."""
    people = await auth.profiles(db, ids)
    hidden = [uid for uid, p in people.items() if not p.discoverable and uid != user_id]
    mine = set(await _names_of_friends_and_me(db, user_id)) if hidden else set()
    return {
        uid: None if uid in hidden and uid not in mine else _Shown(auth.card_of(p))
        for uid, p in people.items()
    }


async def read_board(
    db: AsyncSession, rt: Runtime, *, board: str, scope: Scope, period: Period, user_id: str, limit: int
) -> Board:
    """A board's current bucket. Raises NotFound (no such board)."""
    if registry.get_board(board) is None:
        raise NotFound("no such leaderboard", boards=sorted(registry.BOARDS))
    now = rt.clock.now()
    k = scores.key(rt, board, period, now)
    if scope == "global":
        async with rt.redis.pipeline(transaction=False) as pipe:
            pipe.zrevrange(k, 0, limit - 1, withscores=True)
            pipe.zrevrank(k, user_id)
            pipe.zscore(k, user_id)
            top, my_rank, my_score = await pipe.execute()
        ranked = [(uid, float(score)) for uid, score in top]
        me = Me(rank=None if my_rank is None else int(my_rank) + 1, score=float(my_score or 0))
    else:
        # One SQL read gives the friends and their names; then one ZMSCORE.
        named = await _names_of_friends_and_me(db, user_id)
        ids = list(named)
        values = await rt.redis.zmscore(k, ids)
        present = [(uid, float(v)) for uid, v in zip(ids, values, strict=True) if v is not None]
        present.sort(key=lambda p: (-p[1], p[0]))
        position = next((i for i, (uid, _) in enumerate(present) if uid == user_id), None)
        me = Me(
            rank=None if position is None else position + 1,
            score=present[position][1] if position is not None else 0.0,
        )
        ranked = present[:limit]
    shown: dict[str, _Shown | None] = (
        dict(named)
        if scope == "friends"
        else await _shown_globally(db, user_id=user_id, ids=[u for u, _ in ranked])
    )
    items = []
    for i, (uid, score) in enumerate(ranked):
        who = shown.get(uid, _Shown(PersonCard(id=uid, display_name="", avatar_url=None, badge=None)))
        if who is None:
            items.append(
                Entry(rank=i + 1, user_id=None, display_name=None, badge=None, score=score, anonymous=True)
            )
        else:
            items.append(
                Entry(
                    rank=i + 1,
                    user_id=uid,
                    display_name=who.display_name,
                    badge=who.badge,
                    score=score,
                    user=who.card,
                )
            )
    return Board(
        board=board, scope=scope, period=period, bucket=scores.bucket(rt, period, now), items=items, me=me
    )
