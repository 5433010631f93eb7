"""Creator scores for the ``creators`` leaderboard.

Points (``ContentSettings``): 1 per like received on a post (not one's own), 10 per
answer of yours that an asker accepted, 20 per conversion: a purchase the bank reported
that is attributed to a click on your post's (or chat message's) product card — not
your own purchase (``content.products``). A like taken back subtracts from the periods it
was counted in (its own day and week). Scores are written to Redis after commit through
``games.leaderboards.scores.add_score``; ``rebuild_scores`` recomputes them from the
database, so the sorted sets can always be rebuilt.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import after_commit
from app.redis import hash_tag
from app.runtime import Runtime
from content.config import content_settings
from content.posts.models import Comment, Post, PostLike
from content.products import service as products
from games.leaderboards import scores

BOARD = "creators"


def after_commit_score(db: AsyncSession, rt: Runtime, *, user_id: str, delta: float, at: datetime) -> None:
    """Add ``delta`` creator points to ``user_id`` once the use case commits."""

    async def write() -> None:
        await scores.add_score(rt, board=BOARD, user_id=user_id, delta=delta, at=at)

    after_commit(db, write)


async def on_conversion(db: AsyncSession, rt: Runtime, author_id: str, at: datetime) -> None:
    """A purchase credited to ``author_id``'s post or message: creator points after commit."""
    after_commit_score(db, rt, user_id=author_id, delta=content_settings(rt).points_per_conversion, at=at)


async def rebuild_scores(rt: Runtime) -> dict[str, dict[str, float]]:
    """Every creator's score from the database: user_id → {"<period>:<bucket>": score}.

    Buckets are those of ``scores.bucket`` (``day:2026-11-25``, ``week:2026-W48``, ``all:all``)."""
    cs = content_settings(rt)
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))

    def add(user_id: str, delta: float, at: datetime) -> None:
        for period in scores.PERIODS:
            out[user_id][f"{period}:{scores.bucket(rt, period, at)}"] += delta

    async with rt.sessionmaker() as db:
        likes = await db.stream(
            select(PostLike.author_id, PostLike.created_at).where(PostLike.author_id != PostLike.user_id)
        )
        async for author_id, at in likes:
            add(author_id, cs.points_per_like, at)
        accepted = await db.stream(
            select(Comment.author_id, Post.accepted_at)
            .join(Post, Post.accepted_comment_id == Comment.id)
            .where(Post.accepted_at.is_not(None))  # type: ignore[union-attr]
        )
        async for author_id, at in accepted:
            add(author_id, cs.points_per_accepted_answer, at)
        for author_id, at in await products.credited_conversions(db):
            add(author_id, cs.points_per_conversion, at)
    return {uid: dict(per) for uid, per in out.items()}


async def write_rebuilt(rt: Runtime) -> int:
    """Replace the creators board's sorted sets with ``rebuild_scores`` (returns the sets written)."""
    rebuilt = await rebuild_scores(rt)
    by_key: dict[str, dict[str, float]] = defaultdict(dict)
    for uid, per in rebuilt.items():
        for period_bucket, score in per.items():
            period, bucket = period_bucket.split(":", 1)
            by_key[rt.keys("lb", hash_tag(BOARD), period, bucket)][uid] = score
    async with rt.redis.pipeline(transaction=True) as pipe:
        for k, members in by_key.items():
            pipe.delete(k)
            pipe.zadd(k, members)
            period = k.split(":")[-2]
            if period in scores.TTL_S:
                pipe.expire(k, scores.TTL_S[period])
        await pipe.execute()
    return len(by_key)


async def current_scores(rt: Runtime) -> dict[str, dict[str, float]]:
    """Scores for the current day, week and all time: the leaderboard registry's rebuild shape."""
    now = rt.clock.now()
    current = {period: f"{period}:{scores.bucket(rt, period, now)}" for period in scores.PERIODS}
    rebuilt = await rebuild_scores(rt)
    return {
        uid: {period: per.get(key, 0.0) for period, key in current.items()} for uid, per in rebuilt.items()
    }
