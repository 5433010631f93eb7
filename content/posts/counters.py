"""Atomic counter moves on a post, with its hot key recomputed in the same transaction.

Each move is one ``UPDATE … SET n = n + d … RETURNING``: it locks the row until commit,
so concurrent moves serialise and the hot key
written last matches the counts written last.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.runtime import Runtime
from content.config import content_settings
from content.feed.ranking import hot_key
from content.posts.models import Post, Source


@dataclass
class Counts:
    like_count: int
    comment_count: int
    report_count: int


async def bump(
    db: AsyncSession, rt: Runtime, post_id: str, *, likes: int = 0, comments: int = 0, reports: int = 0
) -> Counts:
    """Move a post's counters by the given deltas and refresh its hot key (in the caller's transaction)."""
    row = (
        await db.execute(
            update(Post)
            .where(Post.id == post_id)
            .values(
                like_count=Post.like_count + likes,
                comment_count=Post.comment_count + comments,
                report_count=Post.report_count + reports,
            )
            .returning(Post.like_count, Post.comment_count, Post.report_count, Post.created_at, Post.source)
            .execution_options(synchronize_session=False)
        )
    ).one()
    like_count, comment_count, report_count, created_at, source = row
    if likes or comments:
        cs = content_settings(rt)
        key = hot_key(
            likes=like_count,
            comments=comment_count,
            created_at=created_at,
            pgc=source == Source.PGC,
            pgc_boost=cs.pgc_boost,
            half_life_h=cs.hot_half_life_h,
        )
        await db.execute(
            update(Post)
            .where(Post.id == post_id)
            .values(hot_score=key)
            .execution_options(synchronize_session=False)
        )
    return Counts(like_count, comment_count, report_count)
