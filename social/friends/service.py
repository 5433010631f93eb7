"""Friendships and blocks: the questions every other feature asks of the graph."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import ValidationFailed
from social.friends.models import Block, Friendship


def pair(a: str, b: str) -> tuple[str, str]:
    if a == b:
        raise ValidationFailed("a user cannot be their own friend")
    return (a, b) if a < b else (b, a)


async def are_friends(db: AsyncSession, a: str, b: str) -> bool:
    if a == b:
        return False
    lo, hi = pair(a, b)
    return bool(await db.scalar(select(exists().where(Friendship.user_lo == lo, Friendship.user_hi == hi))))


async def friend_ids(db: AsyncSession, user_id: str) -> list[str]:
    q = union_all(
        select(Friendship.user_hi).where(Friendship.user_lo == user_id),
        select(Friendship.user_lo).where(Friendship.user_hi == user_id),
    )
    return list((await db.execute(q)).scalars().all())


async def is_blocked_either(db: AsyncSession, a: str, b: str) -> bool:
    """True when either user has blocked the other."""
    return bool(
        await db.scalar(
            select(
                exists().where(
                    or_(
                        (Block.blocker_id == a) & (Block.blocked_id == b),
                        (Block.blocker_id == b) & (Block.blocked_id == a),
                    )
                )
            )
        )
    )


async def make_friends(db: AsyncSession, a: str, b: str, *, now: datetime) -> None:
    """Record the friendship (idempotent); in the caller's transaction."""
    if await are_friends(db, a, b):
        return
    lo, hi = pair(a, b)
    db.add(Friendship(user_lo=lo, user_hi=hi, created_at=now))
    await db.flush()


async def remove_friends(db: AsyncSession, a: str, b: str) -> None:
    lo, hi = pair(a, b)
    await db.execute(delete(Friendship).where(Friendship.user_lo == lo, Friendship.user_hi == hi))
