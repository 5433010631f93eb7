"""Friendships, friend requests and blocks.

The first functions answer the questions every other feature asks of the graph
(``are_friends``, ``friend_ids``, ``is_blocked_either``, and ``may_send_money``: the one
rule of who may send whom money, which every money feature applies); the use cases below them
(requests, unfriend, block) each run in one transaction and notify after commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, literal, or_, select, text, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import service as auth
from app.db import end_read, execute, is_unique_violation, transaction
from app.errors import Conflict, NotFound, ValidationFailed
from app.ids import new_id
from app.notifications.service import notify
from app.pagination import ID_CURSOR, Chunk, decode_cursor, encode_cursor
from app.ratelimit import fixed_window
from app.runtime import Runtime
from social.friends.models import Block, FriendRequest, Friendship, RequestStatus


def pair(a: str, b: str) -> tuple[str, str]:
    if a == b:
        raise ValidationFailed("a user cannot be their own friend")
    return (a, b) if a < b else (b, a)


async def are_friends(db: AsyncSession, a: str, b: str) -> bool:
    if a == b:
        return False
    lo, hi = pair(a, b)
    return bool(await db.scalar(select(exists().where(Friendship.user_lo == lo, Friendship.user_hi == hi))))


def friend_ids_query(user_id: Any, *, and_self: bool = False) -> Any:
    """SQL: the ids of a user's friends (and theirs with ``and_self``), for ``IN (…)``."""
    parts = [
        select(Friendship.user_hi).where(Friendship.user_lo == user_id),
        select(Friendship.user_lo).where(Friendship.user_hi == user_id),
    ]
    if and_self:
        parts.append(select(literal(user_id) if isinstance(user_id, str) else user_id))
    return union_all(*parts)


async def friend_ids(db: AsyncSession, user_id: str) -> list[str]:
    return list((await db.execute(friend_ids_query(user_id))).scalars().all())


_friendships = Friendship.__table__  # type: ignore[attr-defined]
_blocks = Block.__table__  # type: ignore[attr-defined]


def blocked_either_sql(a: Any, b: Any) -> Any:
    """SQL: either of the users ``a`` and ``b`` (ids, columns or bind parameters) has blocked
    the other. The one statement of the block rule, for other features' queries (a chat
    send's guard); ``unblocked_sql`` is its shape for filtering many rows."""
    either_way = or_(
        (_blocks.c.blocker_id == a) & (_blocks.c.blocked_id == b),
        (_blocks.c.blocker_id == b) & (_blocks.c.blocked_id == a),
    )
    # Every other table it names belongs to an enclosing statement.
    return select(_blocks.c.blocker_id).where(either_way).correlate_except(_blocks).exists()


def unblocked_sql(viewer_id: Any, other: Any) -> Any:
    """SQL: no block either way between ``viewer_id`` and the user in column ``other`` (for
    filtering many rows, e.g. a feed's authors: two hashed ``NOT IN`` lists of the viewer's
    blocks, where ``NOT blocked_either_sql`` would probe the blocks once per row)."""
    return and_(
        other.not_in(select(_blocks.c.blocked_id).where(_blocks.c.blocker_id == viewer_id)),
        other.not_in(select(_blocks.c.blocker_id).where(_blocks.c.blocked_id == viewer_id)),
    )


async def is_blocked_either(db: AsyncSession, a: str, b: str) -> bool:
    """True when either user has blocked the other."""
    return bool(await db.scalar(select(blocked_either_sql(a, b))))


async def person_relation(db: AsyncSession, viewer_id: str, user_id: str) -> bool | None:
    """``app.hooks.person_relations``: False when either blocked the other, True for
    friends, else None (one statement)."""
    lo, hi = pair(viewer_id, user_id)
    blocked, friends = (
        await db.execute(
            select(
                blocked_either_sql(lo, hi),
                exists().where(_friendships.c.user_lo == lo, _friendships.c.user_hi == hi),
            )
        )
    ).one()
    return False if blocked else (True if friends else None)


_UNBLOCKED_FRIENDS = select(
    and_(
        exists().where(
            _friendships.c.user_lo == bindparam("p_lo"), _friendships.c.user_hi == bindparam("p_hi")
        ),
        ~blocked_either_sql(bindparam("p_lo"), bindparam("p_hi")),
    )
)


async def are_unblocked_friends(db: AsyncSession, a: str, b: str) -> bool:
    """Friends, and neither has blocked the other (one statement, built once)."""
    if a == b:
        return False
    lo, hi = pair(a, b)
    return bool((await execute(db, _UNBLOCKED_FRIENDS, {"p_lo": lo, "p_hi": hi})).scalar())


# --- who may send whom money: the one rule of every money feature ------------------------


MAY_SEND_MONEY_SQL = "friends_may_send_money"
"""SQL (migration 1000): ``friends_may_send_money(sender, receiver, friends_only)``, the
rule of ``may_send_money``, for other features' statements and functions."""
CHECK_MAY_SEND_MONEY_SQL = "friends_check_may_send_money"
"""SQL (migration 1000): ``friends_check_may_send_money(sender, receiver, friends_only)``
raises forbidden (``qz_raise``, the message of ``check_may_send_money``) where
``friends_may_send_money`` says no."""

_MAY_SEND_MONEY = text(f"SELECT {MAY_SEND_MONEY_SQL}(:p_sender, :p_receiver, :p_friends_only)")
_CHECK_MAY_SEND_MONEY = text(f"SELECT {CHECK_MAY_SEND_MONEY_SQL}(:p_sender, :p_receiver, :p_friends_only)")


async def may_send_money(
    db: AsyncSession, *, sender_id: str, receiver_id: str, friends_only: bool = True
) -> bool:
    """Whether money may move from ``sender_id`` to ``receiver_id``: the one rule that
    transfers, red packets and any later money feature apply (``check_may_send_money``).

    - Never when either has blocked the other, and never to oneself person to person.
    - ``friends_only`` (money sent to a person: a transfer, a red packet in a direct chat):
      only between friends. Without it (a red packet in a group, ``exclusive`` included,
      whose members need not be friends; money that was sent and now lands in a wallet:
      accepting a transfer, grabbing a share) the block rule alone decides: a sender
      grabbing a share of their own group packet is fine.
    Written once, in SQL (``MAY_SEND_MONEY_SQL``): money use cases that run in the
    database call the same function."""
    params = {"p_sender": sender_id, "p_receiver": receiver_id, "p_friends_only": friends_only}
    return bool((await execute(db, _MAY_SEND_MONEY, params)).scalar())


async def check_may_send_money(
    db: AsyncSession, *, sender_id: str, receiver_id: str, friends_only: bool = True
) -> None:
    """``may_send_money`` or raise Forbidden (403 ``forbidden``, ``reason``
    ``money_not_allowed``), with one message for every money feature that does not say
    whether a block is why (``CHECK_MAY_SEND_MONEY_SQL``)."""
    params = {"p_sender": sender_id, "p_receiver": receiver_id, "p_friends_only": friends_only}
    await execute(db, _CHECK_MAY_SEND_MONEY, params)


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


# --- use cases: requests, unfriend, blocks, listing -------------------------------------


def _pending_key(a: str, b: str) -> str:
    lo, hi = pair(a, b)
    return f"{lo}|{hi}"


async def blocked_ids(db: AsyncSession, user_id: str) -> set[str]:
    """Everyone ``user_id`` blocked or was blocked by."""
    q = union_all(
        select(Block.blocked_id).where(Block.blocker_id == user_id),
        select(Block.blocker_id).where(Block.blocked_id == user_id),
    )
    return set((await db.execute(q)).scalars().all())


async def pending_peer_ids(db: AsyncSession, user_id: str) -> set[str]:
    """Users with a pending request to or from ``user_id``."""
    q = union_all(
        select(FriendRequest.to_id).where(
            FriendRequest.from_id == user_id, FriendRequest.status == RequestStatus.PENDING
        ),
        select(FriendRequest.from_id).where(
            FriendRequest.to_id == user_id, FriendRequest.status == RequestStatus.PENDING
        ),
    )
    return set((await db.execute(q)).scalars().all())


@dataclass(frozen=True)
class PeerRequest:
    """A friend request as one of its two users sees it: ``peer`` is the other user."""

    request: FriendRequest
    me: str
    peer_id: str
    peer: auth.Profile | None

    @property
    def outgoing(self) -> bool:
        return self.request.from_id == self.me


async def _as_seen_by(db: AsyncSession, me: str, requests: list[FriendRequest]) -> list[PeerRequest]:
    peers = [r.to_id if r.from_id == me else r.from_id for r in requests]
    profiles = await auth.profiles(db, peers)
    return [PeerRequest(r, me, p, profiles.get(p)) for r, p in zip(requests, peers, strict=True)]


async def send_request(
    db: AsyncSession, rt: Runtime, *, user_id: str, to_user_id: str, message: str | None
) -> PeerRequest:
    """Ask ``to_user_id`` to be friends; a crossing pending request is accepted instead.

    A user who is not discoverable is found only by people already in touch with them: a
    stranger's request is answered as for an unknown id; asking back someone who asked me
    works. Raises ValidationFailed (self), NotFound (unknown, not discoverable, or blocked
    either way), Conflict (already friends or already pending), RateLimited."""
    if to_user_id == user_id:
        raise ValidationFailed("you cannot befriend yourself", field="user_id")
    await fixed_window(
        rt.redis,
        rt.keys("friendreq", user_id),
        limit=rt.settings.friend_requests_per_day,
        window_s=24 * 3600,
    )
    now = rt.clock.now()
    try:
        async with transaction(db):
            target = await auth.get_profile(db, to_user_id)
            if target is None or await is_blocked_either(db, user_id, to_user_id):
                raise NotFound("user not found", user_id=to_user_id)
            if await are_friends(db, user_id, to_user_id):
                raise Conflict("already friends", user_id=to_user_id)
            existing = (
                await db.execute(
                    select(FriendRequest).where(
                        FriendRequest.pending_key == _pending_key(user_id, to_user_id)
                    )
                )
            ).scalar_one_or_none()
            if existing is None and not target.discoverable:
                raise NotFound("user not found", user_id=to_user_id)  # as if unknown: no probing by id
            if existing is not None and existing.from_id == user_id:
                raise Conflict("a request is already pending", request_id=existing.id)
            if existing is not None:
                # They asked me already: asking back is accepting.
                await _accept(db, rt, existing, now=now)
                req = existing
            else:
                req = FriendRequest(
                    id=new_id("fr_"),
                    from_id=user_id,
                    to_id=to_user_id,
                    message=message,
                    status=RequestStatus.PENDING,
                    pending_key=_pending_key(user_id, to_user_id),
                    created_at=now,
                )
                db.add(req)
                await db.flush()
                me = await auth.get_profile(db, user_id)
                await notify(
                    db,
                    rt,
                    user_id=to_user_id,
                    kind="friend_request",
                    data={
                        "request_id": req.id,
                        "from_user_id": user_id,
                        "display_name": me.display_name if me else "",
                        "badge": me.badge if me else None,
                        "message": message,
                    },
                )
            [seen] = await _as_seen_by(db, user_id, [req])
            return seen
    except IntegrityError as exc:
        if not is_unique_violation(exc, "uq_friend_requests_pending_key"):
            raise
        raise Conflict("a request between you is already pending") from exc


async def _accept(db: AsyncSession, rt: Runtime, req: FriendRequest, *, now: datetime) -> None:
    req.status = RequestStatus.ACCEPTED
    req.pending_key = None
    req.decided_at = now
    await db.flush()
    await make_friends(db, req.from_id, req.to_id, now=now)
    accepter = await auth.get_profile(db, req.to_id)
    await notify(
        db,
        rt,
        user_id=req.from_id,
        kind="friend_accepted",
        data={
            "request_id": req.id,
            "user_id": req.to_id,
            "display_name": accepter.display_name if accepter else "",
            "badge": accepter.badge if accepter else None,
        },
    )


async def decide_request(
    db: AsyncSession, rt: Runtime, *, user_id: str, request_id: str, action: str
) -> PeerRequest:
    """Accept or decline (the receiver) or cancel (the sender) a pending request.

    Locks the request row. Raises NotFound (not yours), Conflict (no longer pending)."""
    async with transaction(db):
        req = await db.get(FriendRequest, request_id, with_for_update=True)
        allowed = req is not None and (
            (action in ("accept", "decline") and req.to_id == user_id)
            or (action == "cancel" and req.from_id == user_id)
        )
        if req is None or not allowed:
            raise NotFound("friend request not found", request_id=request_id)
        if req.status != RequestStatus.PENDING:
            raise Conflict(f"the request is already {req.status}", status=req.status)
        now = rt.clock.now()
        if action == "accept":
            if await is_blocked_either(db, req.from_id, req.to_id):
                raise NotFound("friend request not found", request_id=request_id)
            await _accept(db, rt, req, now=now)
        else:
            req.status = RequestStatus.DECLINED if action == "decline" else RequestStatus.CANCELLED
            req.pending_key = None
            req.decided_at = now
            await db.flush()
        [seen] = await _as_seen_by(db, user_id, [req])
        return seen


async def list_requests(
    db: AsyncSession, *, user_id: str, direction: str | None, limit: int, cursor: str | None
) -> Chunk[PeerRequest]:
    """My pending requests, incoming and outgoing, newest first."""
    before = decode_cursor(cursor, ID_CURSOR)
    mine = []
    if direction in (None, "incoming"):
        mine.append(FriendRequest.to_id == user_id)
    if direction in (None, "outgoing"):
        mine.append(FriendRequest.from_id == user_id)
    q = select(FriendRequest).where(or_(*mine), FriendRequest.status == RequestStatus.PENDING)
    if before is not None:
        q = q.where(FriendRequest.id < str(before))
    rows = list((await db.execute(q.order_by(col(FriendRequest.id).desc()).limit(limit + 1))).scalars().all())
    more = len(rows) > limit
    rows = rows[:limit]
    items = await _as_seen_by(db, user_id, rows)
    await end_read(db)
    return Chunk(items, next_cursor=encode_cursor(rows[-1].id) if more else None)


@dataclass(frozen=True)
class Friend:
    user_id: str
    display_name: str
    avatar_url: str | None
    badge: str | None
    since: datetime


async def list_friends(db: AsyncSession, *, user_id: str, limit: int, cursor: str | None) -> Chunk[Friend]:
    """My friends, by user id."""
    after = decode_cursor(cursor, ID_CURSOR)
    q = union_all(
        select(col(Friendship.user_hi).label("uid"), col(Friendship.created_at).label("since")).where(
            Friendship.user_lo == user_id
        ),
        select(col(Friendship.user_lo).label("uid"), col(Friendship.created_at).label("since")).where(
            Friendship.user_hi == user_id
        ),
    ).subquery()
    users = auth.profiles_sql()
    stmt = select(users.c.id, users.c.display_name, users.c.avatar_url, users.c.roles, q.c.since).join(
        q, q.c.uid == users.c.id
    )
    if after is not None:
        stmt = stmt.where(users.c.id > str(after))
    rows = (await db.execute(stmt.order_by(users.c.id).limit(limit + 1))).all()
    await end_read(db)
    more = len(rows) > limit
    items = [
        Friend(uid, name, avatar, auth.badge_of_roles(roles), since)
        for uid, name, avatar, roles, since in rows[:limit]
    ]
    return Chunk(items, next_cursor=encode_cursor(items[-1].user_id) if more else None)


async def unfriend(db: AsyncSession, *, user_id: str, friend_id: str) -> None:
    """End a friendship. Raises NotFound (not friends)."""
    async with transaction(db):
        if friend_id == user_id or not await are_friends(db, user_id, friend_id):
            raise NotFound("not a friend", user_id=friend_id)
        await remove_friends(db, user_id, friend_id)


async def block(db: AsyncSession, rt: Runtime, *, user_id: str, blocked_id: str) -> Block:
    """Block a user (idempotent): ends the friendship and any pending request between us.

    Raises ValidationFailed (self), NotFound (unknown user)."""
    if blocked_id == user_id:
        raise ValidationFailed("you cannot block yourself", field="user_id")
    now = rt.clock.now()
    async with transaction(db):
        if not await auth.user_exists(db, blocked_id):
            raise NotFound("user not found", user_id=blocked_id)
        existing = await db.get(Block, (user_id, blocked_id))
        if existing is None:
            existing = Block(blocker_id=user_id, blocked_id=blocked_id, created_at=now)
            db.add(existing)
            await db.flush()
        await remove_friends(db, user_id, blocked_id)
        await db.execute(
            update(FriendRequest)
            .where(FriendRequest.pending_key == _pending_key(user_id, blocked_id))
            .values(status=RequestStatus.CANCELLED, pending_key=None, decided_at=now)
        )
        return existing


async def unblock(db: AsyncSession, *, user_id: str, blocked_id: str) -> None:
    """Lift my block. Raises NotFound (no such block of mine)."""
    async with transaction(db):
        result = await db.execute(
            delete(Block).where(Block.blocker_id == user_id, Block.blocked_id == blocked_id)
        )
        if not getattr(result, "rowcount", 0):
            raise NotFound("no such block", user_id=blocked_id)


async def list_blocks(db: AsyncSession, *, user_id: str) -> list[Block]:
    """The users I blocked."""
    rows = (
        (await db.execute(select(Block).where(Block.blocker_id == user_id).order_by(Block.created_at)))
        .scalars()
        .all()
    )
    await end_read(db)
    return list(rows)


# -- a member's data (app/profile) --------------------------------------------------------


async def personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> dict[str, Any]:
    """A member's friends, the requests they sent and received, and whom they blocked
    (their export's ``friends`` section)."""
    pairs = (
        await db.execute(
            select(Friendship).where(or_(Friendship.user_lo == user_id, Friendship.user_hi == user_id))
        )
    ).scalars()
    requests = (
        await db.execute(
            select(FriendRequest)
            .where(or_(FriendRequest.from_id == user_id, FriendRequest.to_id == user_id))
            .order_by(FriendRequest.id)
        )
    ).scalars()
    blocks = (await db.execute(select(Block).where(Block.blocker_id == user_id))).scalars()
    return {
        "friends": [
            {"user_id": f.user_hi if f.user_lo == user_id else f.user_lo, "since": f.created_at.isoformat()}
            for f in pairs
        ],
        "requests": [
            {
                "id": r.id,
                "direction": "sent" if r.from_id == user_id else "received",
                "user_id": r.to_id if r.from_id == user_id else r.from_id,
                "message": r.message if r.from_id == user_id else None,  # the sender's words
                "status": str(r.status),
                "created_at": r.created_at.isoformat(),
            }
            for r in requests
        ],
        "blocked": [{"user_id": b.blocked_id, "since": b.created_at.isoformat()} for b in blocks],
    }


async def erase_personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> None:
    """An erased member leaves every friend list, request and block, both ways."""
    await db.execute(
        delete(Friendship).where(or_(Friendship.user_lo == user_id, Friendship.user_hi == user_id))
    )
    await db.execute(
        delete(FriendRequest).where(or_(FriendRequest.from_id == user_id, FriendRequest.to_id == user_id))
    )
    await db.execute(delete(Block).where(or_(Block.blocker_id == user_id, Block.blocked_id == user_id)))
