"""Conversations and messages: the use cases behind REST and the WebSocket gateway.

Messages are numbered by one rule, in SQL: ``chat_append_messages`` (migration 2052) bumps
``conversations.last_seq`` under the row lock, so seqs have no gaps. ``post_message`` calls
it in the caller's transaction and publishes the ``message`` frame to every member after
commit; the money functions (transfers, red packets) call it through
``chat_append_message``; WebSocket sends go through ``social/chat/batcher.py``, which
appends a whole batch in one call.

Who may do what: only members read or post (anyone else gets ``NotFound``, so a
conversation's existence does not leak); a conversation is started with friends only;
two users where either blocked the other cannot message each other in their direct
conversation. Unread counts are ``last_seq - last_read_seq``; posting marks the
sender's own message read.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

import structlog
from sqlalchemy import String, and_, bindparam, collate, func, literal, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlmodel import col

from app.auth import service as auth
from app.auth.schemas import PersonCard
from app.db import (
    after_commit,
    end_read,
    execute,
    in_unit_of_work,
    is_unique_violation,
    last_in_transaction,
    transaction,
)
from app.errors import Forbidden, NotFound, ValidationFailed
from app.ids import new_id
from app.metrics import MESSAGES, count_after_commit
from app.pagination import SEQ_CURSOR, TIME_ID_CURSOR, Chunk, decode_cursor, encode_cursor
from app.push import service as push
from app.realtime.hub import user_channel
from app.runtime import Runtime
from content.media import service as media
from content.products import service as products
from content.products.service import Context
from social.chat import readmarks
from social.chat.models import (
    Conversation,
    ConversationKind,
    ConversationMember,
    MemberRole,
    Message,
    MessageKind,
)
from social.friends import service as friends
from social.friends.service import pair

log = structlog.get_logger()


class StoredMessage(Protocol):
    """What a ``message`` frame is made of: a ``Message`` row, or the send batcher's copy."""

    @property
    def id(self) -> str: ...
    @property
    def conversation_id(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def sender_id(self) -> str | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def body(self) -> dict[str, Any]: ...
    @property
    def created_at(self) -> datetime: ...


@dataclass(frozen=True)
class AppendedMessage:
    """A message another feature's SQL function appended (``APPEND_MESSAGE_SQL``)."""

    id: str
    conversation_id: str
    seq: int
    sender_id: str | None
    kind: str
    body: dict[str, Any]
    created_at: datetime


def message_frame(m: StoredMessage, sender: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``message`` frame of a stored message; ``sender`` is the sender's card as JSON
    (``auth.cached_cards``; None for system messages), or fill it in with ``with_senders``."""
    return {
        "op": "message",
        "conversation_id": m.conversation_id,
        "seq": m.seq,
        "message": {
            "id": m.id,
            "sender_id": m.sender_id,
            "sender": sender,
            "kind": m.kind,
            "body": m.body,
            "created_at": m.created_at.isoformat(),
        },
    }


async def with_senders(rt: Runtime, frames: Sequence[dict[str, Any]]) -> None:
    """Put each ``message`` frame's sender card in it, from this worker's card cache (at
    most one statement for the frames' senders it lacks). The messages are stored: if the
    cards cannot be read, the frames go out without them (``sender`` null)."""
    ids = {f["message"]["sender_id"] for f in frames if f["message"]["sender_id"] is not None}
    if not ids:
        return
    try:
        cards = await auth.cached_cards(rt, ids)
    except Exception:
        log.warning("chat_sender_cards_failed", frames=len(frames), exc_info=True)
        return
    for f in frames:
        sender_id = f["message"]["sender_id"]
        f["message"]["sender"] = cards.get(sender_id) if sender_id is not None else None


async def message_frames(rt: Runtime, messages: Sequence[StoredMessage]) -> list[dict[str, Any]]:
    """The ``message`` frames of stored messages, with their senders' cards."""
    frames = [message_frame(m) for m in messages]
    await with_senders(rt, frames)
    return frames


_PUSH_PREVIEW = {
    MessageKind.IMAGE: "[图片]",
    MessageKind.TRANSFER: "[转账]",
    MessageKind.RED_PACKET: "[红包]",
    MessageKind.PRODUCT: "[理财产品]",
}


async def push_offline(rt: Runtime, members: list[str], frame: dict[str, Any]) -> None:
    """After commit: the offline members (not the sender) get a push for a new ``message``
    frame (``app.push``: kind ``money`` for transfers and red packets, else ``chat``;
    system messages are not pushed)."""
    await push_offline_many(rt, [(members, frame)])


async def push_offline_many(rt: Runtime, items: Sequence[tuple[Sequence[str], dict[str, Any]]]) -> None:
    """``push_offline`` for several (members, frame) pairs: one presence look-up for them all."""
    events = []
    for members, frame in items:
        m = frame["message"]
        kind = m["kind"]
        if kind == MessageKind.SYSTEM:
            continue
        text = m["body"].get("text") if kind == MessageKind.TEXT else _PUSH_PREVIEW.get(MessageKind(kind), "")
        events.append(
            push.Event(
                user_ids=[u for u in members if u != m["sender_id"]],
                kind="money" if kind in (MessageKind.TRANSFER, MessageKind.RED_PACKET) else "chat",
                title="新消息",
                body=str(text or "")[:80],
                data={
                    "conversation_id": frame["conversation_id"],
                    "seq": frame["seq"],
                    "message_id": m["id"],
                },
            )
        )
    await push.offline_push_many(rt, events)


def is_member_sql(conversation_id: Any, user_id: Any) -> Any:
    """SQL: ``user_id`` is a member of ``conversation_id`` (ids, columns or bind parameters),
    for other features' statements (a red packet's grab)."""
    return (
        select(ConversationMember.user_id)
        .where(ConversationMember.conversation_id == conversation_id, ConversationMember.user_id == user_id)
        .exists()
    )


async def is_member(db: AsyncSession, conversation_id: str, user_id: str) -> bool:
    return bool(await db.scalar(select(is_member_sql(conversation_id, user_id))))


async def person_relation(db: AsyncSession, viewer_id: str, user_id: str) -> bool | None:
    """``app.hooks.person_relations``: True when the two are members of one conversation."""
    other = aliased(ConversationMember)
    shared = (
        select(ConversationMember.conversation_id)
        .join(other, other.conversation_id == ConversationMember.conversation_id)
        .where(ConversationMember.user_id == viewer_id, other.user_id == user_id)
        .exists()
    )
    return True if await db.scalar(select(shared)) else None


async def member_ids(db: AsyncSession, conversation_id: str) -> list[str]:
    rows = await db.execute(
        select(ConversationMember.user_id).where(ConversationMember.conversation_id == conversation_id)
    )
    return list(rows.scalars().all())


async def direct_conversation_id(db: AsyncSession, a: str, b: str) -> str | None:
    """The id of the direct conversation of two users, if it exists (``DIRECT_ID_SQL``)."""
    return (await execute(db, _DIRECT_ID, {"a": a, "b": b})).scalar()


DIRECT_ID_SQL = "chat_direct_conversation_id"
"""SQL (migration 1002): ``chat_direct_conversation_id(a, b)``, the pair's direct
conversation or NULL."""
_DIRECT_ID = text(f"SELECT {DIRECT_ID_SQL}(:a, :b)")


async def get_or_create_direct(db: AsyncSession, rt: Runtime, a: str, b: str) -> Conversation:
    """The direct conversation of two users, created on first use (own transaction if none is open).

    Does not check friendship: callers decide who may talk (friends, advisor and client)."""
    lo, hi = pair(a, b)
    key = f"{lo}|{hi}"
    found = (
        await db.execute(select(Conversation).where(Conversation.direct_key == key))
    ).scalar_one_or_none()
    if found is not None:
        return found
    now = rt.clock.now()
    conv = Conversation(
        id=new_id("c_"), kind=ConversationKind.DIRECT, direct_key=key, created_by=a, created_at=now
    )
    if in_unit_of_work(db):
        # Inside a use case already: create in its transaction.
        db.add(conv)
        await db.flush()
        for uid in (lo, hi):
            db.add(ConversationMember(conversation_id=conv.id, user_id=uid, joined_at=now))
        await db.flush()
        return conv
    try:
        async with transaction(db):
            db.add(conv)
            await db.flush()
            for uid in (lo, hi):
                db.add(ConversationMember(conversation_id=conv.id, user_id=uid, joined_at=now))
    except IntegrityError as exc:
        if not is_unique_violation(exc, "uq_conversations_direct_key"):
            raise
        await db.rollback()  # the failed flush's session state; the other's chat is committed
        return (await db.execute(select(Conversation).where(Conversation.direct_key == key))).scalar_one()
    return conv


async def post_message(
    db: AsyncSession,
    rt: Runtime,
    *,
    conversation_id: str,
    sender_id: str | None,
    kind: str,
    body: dict[str, Any],
    cid: str | None = None,
) -> Message:
    """Append a message in the caller's transaction; members get it after commit.

    Membership is the caller's check. Locks the conversation row. Raises NotFound."""
    msg = await _append(
        db,
        rt,
        conversation_id=conversation_id,
        sender_id=sender_id,
        kind=kind,
        body=body,
        cid=cid,
        guard=False,
    )
    if msg is None:
        raise NotFound("conversation not found", conversation_id=conversation_id)
    return msg


async def post_message_last(
    db: AsyncSession,
    rt: Runtime,
    *,
    conversation_id: str,
    sender_id: str | None,
    kind: str,
    body: dict[str, Any],
) -> None:
    """``post_message`` as the transaction's last write (``app.db.last_in_transaction``): the
    conversation row, locked by every message of the conversation, is then held only for
    the commit. For money use cases, whose messages share a group with many others."""

    async def post() -> None:
        await post_message(db, rt, conversation_id=conversation_id, sender_id=sender_id, kind=kind, body=body)

    await last_in_transaction(db, post)


def blocked_with_others_sql(conversation_id: Any, user_id: Any) -> Any:
    """SQL: ``user_id`` and another member of the conversation blocked one another (either way)."""
    other = aliased(ConversationMember)
    return (
        select(other.user_id)
        .where(
            other.conversation_id == conversation_id,
            other.user_id != user_id,
            friends.blocked_either_sql(user_id, other.user_id),
        )
        .correlate_except(other)
        .exists()
    )


def _sender_may_post(conversation_id: Any, sender_id: Any) -> Any:
    """SQL: the sender is a member, and in a direct conversation neither side blocked the other."""
    return and_(
        is_member_sql(conversation_id, sender_id),
        or_(
            Conversation.kind != ConversationKind.DIRECT,
            ~blocked_with_others_sql(conversation_id, sender_id),
        ),
    )


async def _append(
    db: AsyncSession,
    rt: Runtime,
    *,
    conversation_id: str,
    sender_id: str | None,
    kind: str,
    body: dict[str, Any],
    cid: str | None,
    guard: bool,
) -> Message | None:
    """Bump the seq and insert the message (None when the conversation is missing, or with
    ``guard`` when the sender may not post). Chat's hot path: its statements are built
    once, and callers post the message last in their transaction, so the conversation row
    stays locked for as short as possible."""
    now = rt.clock.now()
    msg = Message(
        id=new_id("m_"),
        conversation_id=conversation_id,
        seq=0,
        sender_id=sender_id,
        kind=kind,
        body=body,
        cid=cid,
        created_at=now,
    )
    params = {
        "p_id": msg.id,
        "p_conv": conversation_id,
        "p_sender": sender_id,
        "p_kind": kind,
        "p_body": json.dumps(body),
        "p_cid": cid,
        "p_now": now,
    }
    if guard and sender_id is not None:
        if (
            await execute(db, _MAY_POST, {"p_conv": conversation_id, "p_sender": sender_id, "p_cid": cid})
        ).first() is None:
            return None
    row: Any = (await execute(db, _APPEND, params)).first()
    if row is None:
        return None
    msg.seq, members = int(row[0]), list(row[1] or [])
    appended_in_sql(db, rt, msg, members)
    return msg


CONVERSATION_KIND_SQL = "chat_conversation_kind"
"""SQL (migration 2051): ``chat_conversation_kind(conversation_id)``, ``direct`` or ``group``
(NULL: no such conversation), for other features' SQL functions."""
MEMBER_IDS_SQL = "chat_member_ids"
"""SQL (migration 2051): ``chat_member_ids(conversation_id)``, the members' ids (text[])."""
APPEND_MESSAGE_SQL = "chat_append_message"
"""SQL (migration 1000) for other features' functions: ``chat_append_message(id,
conversation_id, sender_id, kind, body json, cid, now)`` appends a message (the seq bump
under the conversation's row lock, the insert, the sender's read mark) and returns
``(seq, members)``; raises not_found (``qz_raise``). Membership is the caller's check.
The caller then hands the message to ``appended_in_sql``."""
IS_MEMBER_SQL = "chat_is_member"
"""SQL (migration 1000): ``chat_is_member(conversation_id, user_id)``."""


def appended_in_sql(
    db: AsyncSession, rt: Runtime, msg: StoredMessage, members: Sequence[str], *, pushed: Collection[str] = ()
) -> None:
    """A message appended in this transaction (``APPEND_MESSAGE_SQL``): members get it after
    commit, and the session sees the conversation's new seq. ``pushed``: members whose
    phones the caller's notification of the same event already reaches (no second push)."""
    loaded = db.identity_map.get(identity_key(Conversation, msg.conversation_id))
    if loaded is not None:  # as the ORM's own UPDATE would: the session sees the new seq
        set_committed_value(loaded, "last_seq", msg.seq)
        set_committed_value(loaded, "last_message_at", msg.created_at)
    frame = message_frame(msg)
    channels = [user_channel(u) for u in members]

    async def publish() -> None:
        await with_senders(rt, [frame])
        await rt.hub.publish_many(channels, frame)
        await push_offline(rt, [m for m in members if m not in pushed], frame)

    after_commit(db, publish)
    count_after_commit(db, MESSAGES.labels(msg.kind))


_conversations = Conversation.__table__  # type: ignore[attr-defined]
_members = ConversationMember.__table__  # type: ignore[attr-defined]
_messages = Message.__table__  # type: ignore[attr-defined]


APPEND_MESSAGES_SQL = "chat_append_messages"
"""SQL (migration 2052): chat's sequence rule, written once. ``chat_append_messages(ids[],
conversation_ids[], sender_ids[], kinds[], bodies json[], cids[], now)`` locks the
conversations in id order, bumps each one's ``last_seq`` by its count, numbers the messages
in array order, inserts them and moves each sender's read mark past their own message;
returns ``(message_id, message_conversation, message_seq)`` per stored message (none for a
missing conversation). Membership is the caller's check; the rows stay locked until the
commit, so callers append last."""

# One message: the seq, and the members who get it.
_APPEND = text(
    """
SELECT a.message_seq, chat_member_ids(CAST(:p_conv AS text))
FROM chat_append_messages(
    ARRAY[CAST(:p_id AS text)], ARRAY[CAST(:p_conv AS text)], ARRAY[CAST(:p_sender AS text)],
    ARRAY[CAST(:p_kind AS text)], ARRAY[CAST(:p_body AS json)], ARRAY[CAST(:p_cid AS text)],
    CAST(:p_now AS timestamptz)) a
"""
)


def _may_post_query() -> Any:
    """A row when the sender may post (``_sender_may_post``) and the cid is not a resend:
    messages are partitioned by month, so the unique (…, cid) index only sees this month's;
    an earlier month's same cid is found here (the caller then answers with the stored
    message)."""
    m = _messages.c
    p_conv, p_sender = bindparam("p_conv", type_=String()), bindparam("p_sender", type_=String())
    resent = (
        select(1)
        .where(m.conversation_id == p_conv, m.sender_id == p_sender, m.cid == bindparam("p_cid"))
        .exists()
    )
    return select(Conversation.id).where(
        Conversation.id == p_conv, _sender_may_post(p_conv, p_sender), ~resent
    )


_MAY_POST = _may_post_query()


# ---- reading ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Membership:
    """What a member's request needs to know about the conversation and their place in it."""

    conversation_id: str
    kind: str
    direct_key: str | None
    last_seq: int
    last_read_seq: int

    def peer_of(self, user_id: str) -> str | None:
        if self.direct_key is None:
            return None
        lo, _, hi = self.direct_key.partition("|")
        return hi if lo == user_id else lo


async def access_conversation(db: AsyncSession, *, conversation_id: str, user_id: str) -> Membership:
    """The caller's membership of a conversation. Raises NotFound when not a member."""
    row = (
        await db.execute(
            select(
                Conversation.kind,
                Conversation.direct_key,
                Conversation.last_seq,
                ConversationMember.last_read_seq,
            )
            .join(ConversationMember, ConversationMember.conversation_id == Conversation.id)
            .where(Conversation.id == conversation_id, ConversationMember.user_id == user_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound("conversation not found", conversation_id=conversation_id)
    return Membership(conversation_id, row[0], row[1], int(row[2]), int(row[3]))


@dataclass(frozen=True)
class Peer:
    user_id: str
    display_name: str
    avatar_url: str | None
    badge: str | None


@dataclass(frozen=True)
class ConversationView:
    """A conversation as one member sees it: their read mark, the member count, the other
    member of a direct conversation, the last message (and, for one conversation, every
    member's id)."""

    conversation: Conversation
    last_read_seq: int
    member_count: int
    peer: Peer | None
    last_message: Message | None
    member_ids: list[str] | None = None
    # the cards of the people it shows: the last message's sender (and every member)
    cards: dict[str, PersonCard] = field(default_factory=dict)

    @property
    def members(self) -> list[PersonCard]:
        return [self.cards[u] for u in self.member_ids or [] if u in self.cards]

    @property
    def id(self) -> str:
        return self.conversation.id

    @property
    def unread_count(self) -> int:
        return max(0, self.conversation.last_seq - self.last_read_seq)


def _activity(c: Any) -> Any:
    return func.coalesce(c.last_message_at, c.created_at)


async def _views(
    db: AsyncSession, user_id: str, rows: list[tuple[Conversation, int]], people: Sequence[str] = ()
) -> list[ConversationView]:
    """Conversation rows (with the caller's last_read_seq) with counts, peers and last
    messages, and the cards of the last messages' senders and of ``people`` (one statement)."""
    ids = [c.id for c, _ in rows]
    if not ids:
        return []
    counts: dict[str, int] = dict(
        (
            await db.execute(
                select(ConversationMember.conversation_id, func.count())
                .where(col(ConversationMember.conversation_id).in_(ids))
                .group_by(ConversationMember.conversation_id)
            )
        ).all()
    )
    direct_ids = [c.id for c, _ in rows if c.kind == ConversationKind.DIRECT]
    peers: dict[str, Peer] = {}
    if direct_ids:
        users = auth.profiles_sql()
        for cid, *peer in await db.execute(
            select(
                ConversationMember.conversation_id,
                users.c.id,
                users.c.display_name,
                users.c.avatar_url,
                users.c.roles,
            )
            .join(users, users.c.id == ConversationMember.user_id)
            .where(
                col(ConversationMember.conversation_id).in_(direct_ids), ConversationMember.user_id != user_id
            )
        ):
            uid, name, avatar, roles = peer
            peers[cid] = Peer(uid, name, avatar, auth.badge_of_roles(roles))
    with_messages = [(c.id, c.last_seq) for c, _ in rows if c.last_seq > 0]
    last: dict[str, Message] = {}
    if with_messages:
        cond = or_(*(and_(Message.conversation_id == cid, Message.seq == seq) for cid, seq in with_messages))
        for m in (await db.execute(select(Message).where(cond))).scalars():
            last[m.conversation_id] = m
    cards = await auth.person_cards(db, [*(m.sender_id for m in last.values() if m.sender_id), *people])
    return [
        ConversationView(
            conversation=c,
            last_read_seq=read_seq,
            member_count=int(counts.get(c.id, 0)),
            peer=peers.get(c.id),
            last_message=last.get(c.id),
            cards=cards,
        )
        for c, read_seq in rows
    ]


async def list_conversations(
    db: AsyncSession, *, user_id: str, limit: int, cursor: str | None
) -> Chunk[ConversationView]:
    """My conversations, most recently active first, with last message and unread count."""
    after = decode_cursor(cursor, TIME_ID_CURSOR)
    activity = _activity(Conversation)
    query = (
        select(Conversation, ConversationMember.last_read_seq)
        .join(ConversationMember, ConversationMember.conversation_id == Conversation.id)
        .where(ConversationMember.user_id == user_id)
    )
    if after is not None:
        at, last_id = after
        query = query.where(or_(activity < at, and_(activity == at, Conversation.id < last_id)))
    rows = [
        (c, int(r))
        for c, r in (
            await db.execute(query.order_by(activity.desc(), col(Conversation.id).desc()).limit(limit + 1))
        ).all()
    ]
    next_cursor = None
    if len(rows) > limit:
        c = rows[limit - 1][0]
        next_cursor = encode_cursor([(c.last_message_at or c.created_at).isoformat(), c.id])
    items = await _views(db, user_id, rows[:limit])
    await end_read(db)
    return Chunk(items, next_cursor=next_cursor)


async def get_conversation(db: AsyncSession, *, user_id: str, conversation_id: str) -> ConversationView:
    """One of my conversations with its member ids. Raises NotFound when not a member."""
    row = (
        await db.execute(
            select(Conversation, ConversationMember.last_read_seq)
            .join(ConversationMember, ConversationMember.conversation_id == Conversation.id)
            .where(Conversation.id == conversation_id, ConversationMember.user_id == user_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound("conversation not found", conversation_id=conversation_id)
    members = sorted(await member_ids(db, conversation_id))
    [view] = await _views(db, user_id, [(row[0], int(row[1]))], people=members)
    await end_read(db)
    return replace(view, member_ids=members)


@dataclass(frozen=True)
class MessageChunk(Chunk[Message]):
    """A page of messages and the cards of their senders, by id."""

    senders: dict[str, PersonCard] = field(default_factory=dict)


async def list_messages(
    db: AsyncSession,
    *,
    user_id: str,
    conversation_id: str,
    after_seq: int | None,
    before_seq: int | None,
    limit: int,
    cursor: str | None = None,
) -> MessageChunk:
    """A page of messages in ascending seq: after ``after_seq`` (oldest first), else the
    newest before ``before_seq`` (or the newest of all), with their senders' cards. Raises
    NotFound when not a member."""
    if cursor:
        pos = decode_cursor(cursor, SEQ_CURSOR)
        if pos is not None:
            after_seq, before_seq = pos.after_seq, pos.before_seq
    await access_conversation(db, conversation_id=conversation_id, user_id=user_id)
    query = select(Message).where(Message.conversation_id == conversation_id)
    if before_seq is not None:
        query = query.where(Message.seq < before_seq)
    forward = after_seq is not None
    if forward:
        query = query.where(Message.seq > (after_seq or 0))
        rows = list((await db.execute(query.order_by(Message.seq).limit(limit + 1))).scalars())
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor({"after_seq": rows[-1].seq}) if more else None
    else:
        rows = list((await db.execute(query.order_by(col(Message.seq).desc()).limit(limit + 1))).scalars())
        more = len(rows) > limit
        rows = rows[:limit][::-1]
        next_cursor = encode_cursor({"before_seq": rows[0].seq}) if more else None
    senders = await auth.person_cards(db, {m.sender_id for m in rows if m.sender_id is not None})
    await render_products(db, user_id=user_id, rows=rows)
    await end_read(db)
    return MessageChunk(rows, next_cursor=next_cursor, senders=senders)


async def render_products(db: AsyncSession, *, user_id: str, rows: Sequence[Message]) -> None:
    """Product cards as ``user_id`` may see them now: each ``product`` message's body is
    rendered again from the catalogue for the reader's risk profile (a placeholder when the
    product is above it or withdrawn). The rows are detached first: nothing is written."""
    shown = [m for m in rows if m.kind == MessageKind.PRODUCT and isinstance(m.body, dict)]
    if not shown:
        return
    reader = (await auth.profiles(db, [user_id])).get(user_id)
    found = await products.products_by_id(db, {str(m.body.get("product_id", "")) for m in shown})
    for m in shown:
        pid = str(m.body.get("product_id", ""))
        # the sender (the advisor who shared it) sees what they sent; readers, what suits them
        risk = products.ANY_RISK if m.sender_id == user_id else (reader.risk_profile if reader else None)
        db.expunge(m)
        m.body = products.card(found.get(pid), pid, risk).model_dump(exclude_none=True)


async def product_message(db: AsyncSession, rt: Runtime, viewer: Any, message_id: str) -> Context:
    """The product a chat message shows and its sender, for a member of its conversation
    (``content.products``' click context). Raises NotFound."""
    # By id alone: the table is partitioned by month, its key is (id, created_at).
    m = (await db.execute(select(Message).where(Message.id == message_id))).scalar_one_or_none()
    if m is None or m.sender_id is None or not await is_member(db, m.conversation_id, viewer.id):
        raise NotFound("no such message", message_id=message_id)
    shown = m.body.get("product_id") if m.kind == MessageKind.PRODUCT and isinstance(m.body, dict) else None
    return Context(product_id=shown, author_id=m.sender_id)


async def direct_conversations(db: AsyncSession, user_id: str, peer_ids: list[str]) -> dict[str, str]:
    """The ids of ``user_id``'s direct conversations with each of ``peer_ids`` that exist, by peer."""
    keys = {"|".join(pair(user_id, p)): p for p in peer_ids}
    rows = await db.execute(
        select(Conversation.direct_key, Conversation.id).where(col(Conversation.direct_key).in_(keys))
    )
    return {keys[key]: cid for key, cid in rows.all()}


@dataclass(frozen=True)
class SenderCount:
    """How many messages one sender (None: the system) posted in a conversation, the last when."""

    conversation_id: str
    sender_id: str | None
    messages: int
    last_at: datetime | None


async def sender_counts(db: AsyncSession, conversation_ids: list[str]) -> list[SenderCount]:
    """Message counts per conversation and sender (one grouped query)."""
    if not conversation_ids:
        return []
    rows = await db.execute(
        select(Message.conversation_id, Message.sender_id, func.count(), func.max(Message.created_at))
        .where(col(Message.conversation_id).in_(conversation_ids))
        .group_by(Message.conversation_id, Message.sender_id)
    )
    return [SenderCount(cid, sender, int(n), last) for cid, sender, n, last in rows.all()]


async def latest_messages(db: AsyncSession, conversation_id: str, *, limit: int) -> Sequence[StoredMessage]:
    """A conversation's newest ``limit`` messages, oldest first (no membership check: the
    caller decided who may read them)."""
    rows = await db.execute(
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(col(Message.seq).desc())
        .limit(limit)
    )
    return list(rows.scalars())[::-1]


async def messages_after(
    db: AsyncSession, *, user_id: str, conversation_id: str, after_seq: int, limit: int
) -> tuple[list[Message], int, bool]:
    """What a reconnecting member missed: up to ``limit`` messages after ``after_seq``, the
    seq they are synced to, and whether more remain. Raises NotFound when not a member."""
    member = await access_conversation(db, conversation_id=conversation_id, user_id=user_id)
    rows = list(
        (
            await db.execute(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.seq > after_seq)
                .order_by(Message.seq)
                .limit(limit + 1)
            )
        ).scalars()
    )
    await render_products(db, user_id=user_id, rows=rows)
    await end_read(db)
    more = len(rows) > limit
    rows = rows[:limit]
    # Nothing after after_seq: the client is synced to it (or to the last message, if it
    # claimed more than exists).
    synced = rows[-1].seq if rows else min(after_seq, member.last_seq)
    return rows, synced, more


async def ephemeral_audience(db: AsyncSession, *, user_id: str, conversation_id: str) -> list[str]:
    """Who may see my typing and presence in a conversation: the other members, less anyone
    I blocked or who blocked me. Raises NotFound when I am not a member."""
    await access_conversation(db, conversation_id=conversation_id, user_id=user_id)
    others = [u for u in await member_ids(db, conversation_id) if u != user_id]
    blocked = await friends.blocked_ids(db, user_id) if others else set()
    await end_read(db)
    return [u for u in others if u not in blocked]


# ---- changing --------------------------------------------------------------------------


async def create_conversation(
    db: AsyncSession, rt: Runtime, *, creator_id: str, member_ids: list[str], title: str | None
) -> tuple[ConversationView, bool]:
    """Start a conversation with friends: one friend and no title gives the direct
    conversation (found or created), anything else a new group (the creator owns it).
    Returns it and whether it was created. Raises ValidationFailed, Forbidden."""
    others = list(dict.fromkeys(u for u in member_ids if u != creator_id))
    if not others:
        raise ValidationFailed("add at least one other member", field="member_ids")
    if len(others) + 1 > rt.settings.chat_group_max_members:
        raise ValidationFailed(
            f"a group holds at most {rt.settings.chat_group_max_members} members",
            field="member_ids",
            max_members=rt.settings.chat_group_max_members,
        )
    if len(others) == 1 and title is None:
        return await _start_direct(db, rt, creator_id=creator_id, peer_id=others[0])
    friend_set = set(await friends.friend_ids(db, creator_id))
    strangers = [u for u in others if u not in friend_set]
    if strangers:
        raise Forbidden("you can only add your friends to a conversation", user_ids=strangers)
    blocked = sorted(set(others) & await friends.blocked_ids(db, creator_id))
    if blocked:
        raise Forbidden("blocked users cannot be added", user_ids=blocked)
    now = rt.clock.now()
    conv = Conversation(
        id=new_id("c_"), kind=ConversationKind.GROUP, title=title, created_by=creator_id, created_at=now
    )
    async with transaction(db):
        db.add(conv)
        await db.flush()
        db.add(
            ConversationMember(
                conversation_id=conv.id, user_id=creator_id, role=MemberRole.OWNER, joined_at=now
            )
        )
        for uid in others:
            db.add(ConversationMember(conversation_id=conv.id, user_id=uid, joined_at=now))
        await db.flush()
        await post_message(
            db,
            rt,
            conversation_id=conv.id,
            sender_id=None,
            kind=MessageKind.SYSTEM,
            body={"event": "group_created", "by": creator_id, "title": title, "member_ids": others},
        )
    return await get_conversation(db, user_id=creator_id, conversation_id=conv.id), True


async def _start_direct(
    db: AsyncSession, rt: Runtime, *, creator_id: str, peer_id: str
) -> tuple[ConversationView, bool]:
    lo, hi = pair(creator_id, peer_id)
    existing = await db.scalar(select(Conversation.id).where(Conversation.direct_key == f"{lo}|{hi}"))
    if await friends.is_blocked_either(db, creator_id, peer_id):
        raise Forbidden("blocked users cannot message each other")
    if existing is None and not await friends.are_friends(db, creator_id, peer_id):
        raise Forbidden("you can only start a conversation with a friend", user_ids=[peer_id])
    await end_read(db)
    conv = await get_or_create_direct(db, rt, creator_id, peer_id)
    await end_read(db)
    return await get_conversation(db, user_id=creator_id, conversation_id=conv.id), existing is None


def check_text(rt: Runtime, *, kind: str, body: dict[str, Any]) -> str:
    """The text of a client's text message body. Raises ValidationFailed."""
    if kind != MessageKind.TEXT:
        raise ValidationFailed("clients send text or image messages", field="body.kind")
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValidationFailed("text must not be blank", field="body.text")
    if len(text) > rt.settings.chat_text_max_chars:
        raise ValidationFailed(
            f"text is longer than {rt.settings.chat_text_max_chars} characters",
            field="body.text",
            max_chars=rt.settings.chat_text_max_chars,
        )
    return text


async def client_body(
    db: AsyncSession, rt: Runtime, *, user_id: str, kind: str, body: dict[str, Any]
) -> tuple[MessageKind, dict[str, Any]]:
    """The kind and stored body of a client's message: a text, or an image from the sender's
    own uploads (``content.media``: its URLs and sizes, thumbnail included). Raises
    ValidationFailed."""
    if kind == MessageKind.IMAGE:
        media_id = body.get("media_id")
        if not isinstance(media_id, str):
            raise ValidationFailed("media_id is required", field="body.media_id")
        image = await media.attachable_image(db, rt, owner_id=user_id, media_id=media_id)
        await end_read(db)
        return MessageKind.IMAGE, image
    return MessageKind.TEXT, {"text": check_text(rt, kind=kind, body=body)}


async def send_message(
    db: AsyncSession,
    rt: Runtime,
    *,
    user_id: str,
    conversation_id: str,
    cid: str,
    kind: str,
    body: dict[str, Any],
) -> tuple[Message, bool]:
    """Post a member's text or image message, idempotent by ``cid``: a resend returns the
    stored message (and True). Locks the conversation row. Raises NotFound, Forbidden,
    ValidationFailed."""
    stored_kind, stored_body = await client_body(db, rt, user_id=user_id, kind=kind, body=body)
    try:
        async with transaction(db):
            msg = await _append(
                db,
                rt,
                conversation_id=conversation_id,
                sender_id=user_id,
                kind=stored_kind,
                body=stored_body,
                cid=cid,
                guard=True,
            )
            if msg is None:  # refused by the guard: not a member (NotFound), else blocked
                await access_conversation(db, conversation_id=conversation_id, user_id=user_id)
                raise Forbidden("blocked users cannot message each other")
        return msg, False
    except IntegrityError as exc:
        # A violation names the month partition's index, not the parent's constraint: the
        # lookup below tells a resent cid from anything else.
        if not is_unique_violation(exc):
            raise
        found = await _sent_before(db, conversation_id=conversation_id, user_id=user_id, cid=cid)
        if found is None:
            raise
        return found, True
    except (NotFound, Forbidden):
        # A resend of a message accepted before the sender lost access still gets its ack.
        found = await _sent_before(db, conversation_id=conversation_id, user_id=user_id, cid=cid)
        if found is None:
            raise
        return found, True


async def _sent_before(db: AsyncSession, *, conversation_id: str, user_id: str, cid: str) -> Message | None:
    found = (
        await db.execute(
            select(Message).where(
                Message.conversation_id == conversation_id, Message.sender_id == user_id, Message.cid == cid
            )
        )
    ).scalar_one_or_none()
    await end_read(db)
    return found


async def mark_read(
    db: AsyncSession, rt: Runtime, *, user_id: str, conversation_id: str, seq: int
) -> tuple[int, int]:
    """Move my read marker forward to ``seq`` (never back, never past the last message;
    ``readmarks.move``, one statement); my other devices get a ``read`` frame. Returns
    (last_read_seq, unread). Raises NotFound. (The WebSocket's marks are coalesced:
    ``readmarks.batcher``.)"""
    marked = (await readmarks.move(db, {(conversation_id, user_id): seq})).get((conversation_id, user_id))
    if marked is None:
        raise NotFound("conversation not found", conversation_id=conversation_id)
    if marked.moved:
        await rt.hub.publish(
            user_channel(user_id), readmarks.read_frame(conversation_id, marked.last_read_seq)
        )
    return marked.last_read_seq, marked.unread


@dataclass(frozen=True)
class DirectState:
    """Where I am in my direct conversation with one peer."""

    peer_id: str
    conversation_id: str
    last_seq: int
    last_read_seq: int
    last_message_at: datetime | None

    @property
    def unread(self) -> int:
        return max(0, self.last_seq - self.last_read_seq)


async def direct_states(db: AsyncSession, *, user_id: str, peer_ids: list[str]) -> dict[str, DirectState]:
    """My direct conversations with these peers (those that exist), by peer id."""
    if not peer_ids:
        return {}
    keys = {"|".join(pair(user_id, p)): p for p in peer_ids}
    rows = (
        await db.execute(
            select(
                Conversation.direct_key,
                Conversation.id,
                Conversation.last_seq,
                Conversation.last_message_at,
                ConversationMember.last_read_seq,
            )
            .join(ConversationMember, ConversationMember.conversation_id == Conversation.id)
            .where(col(Conversation.direct_key).in_(list(keys)), ConversationMember.user_id == user_id)
        )
    ).all()
    return {
        keys[key]: DirectState(keys[key], cid, int(last_seq), int(read), at)
        for key, cid, last_seq, at, read in rows
    }


async def user_exists(db: AsyncSession, user_id: str) -> bool:
    found = await auth.user_exists(db, user_id)
    await end_read(db)
    return found


async def set_member_role(db: AsyncSession, *, conversation_id: str, user_id: str, role: MemberRole) -> None:
    """Give a member a role in a conversation (an advisor in a client's chat); caller's transaction."""
    await db.execute(
        update(ConversationMember)
        .where(ConversationMember.conversation_id == conversation_id, ConversationMember.user_id == user_id)
        .values(role=role)
    )


def last_sent_sql(sender_id: Any, peer_id: str) -> Any:
    """SQL: when ``sender_id`` (a column or value) last wrote to ``peer_id`` in their direct
    conversation (NULL if never), for a query of another feature to sort by."""
    # ``pair`` orders the two ids by code point: the "C" collation does the same in SQL.
    a, b = collate(sender_id, "C"), collate(literal(peer_id), "C")
    lo, hi = func.least(a, b), func.greatest(a, b)
    return (
        select(func.max(Message.created_at))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.direct_key == func.concat(lo, "|", hi), Message.sender_id == sender_id)
        .scalar_subquery()
    )


# -- a member's data (app/profile) --------------------------------------------------------


async def personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> dict[str, Any]:
    """The conversations a member is in and the messages they sent (their export's
    ``chat`` section); what the others wrote is theirs and is not included."""
    memberships = (
        await db.execute(
            select(ConversationMember, Conversation.kind, Conversation.title)
            .join(Conversation, Conversation.id == ConversationMember.conversation_id)
            .where(ConversationMember.user_id == user_id)
            .order_by(ConversationMember.joined_at)
        )
    ).all()
    sent = (
        await db.execute(
            select(Message).where(Message.sender_id == user_id).order_by(Message.conversation_id, Message.seq)
        )
    ).scalars()
    return {
        "conversations": [
            {
                "id": m.conversation_id,
                "kind": str(kind),
                "title": title,
                "joined_at": m.joined_at.isoformat(),
            }
            for m, kind, title in memberships
        ],
        "messages_sent": [
            {
                "id": m.id,
                "conversation_id": m.conversation_id,
                "seq": m.seq,
                "kind": str(m.kind),
                "body": m.body,
                "created_at": m.created_at.isoformat(),
            }
            for m in sent
        ],
    }
