"""Group commit for WebSocket text sends: one transaction per batch of sends, not per send.

``await batcher(rt).send(user_id=…, conversation_id=…, cid=…, kind=…, body=…)`` checks the
text (``chat.check_text``), queues the send and waits for its outcome: the same
``(Message, resent)`` or the same domain error as ``chat.send_message``. A worker has one
batcher; its flusher task runs while sends are queued and takes up to
``chat_send_batch_max`` of them at a time. For one batch, in one transaction, it:

1. in one statement, looks up earlier messages with the same (conversation, sender,
   cid) — a resend gets the stored message back, as does a repeat inside the batch —,
   the senders' memberships, the groups' members and, in direct conversations, blocks,
   and locks the batch's conversation rows in id order (``… ORDER BY id FOR UPDATE``, so
   two workers flushing at once take the locks in the same order and cannot deadlock);
2. numbers the accepted sends from each ``last_seq`` on, and in one more statement
   stores each conversation's new ``last_seq`` (one ``UPDATE`` per conversation per
   batch), inserts the messages and moves each sender's read marker past their own
   message.

Both statements take arrays, so their text is the same for every batch (prepared and
planned once per connection). With BEGIN and COMMIT a batch is four round trips.

After the commit it answers the sends, then publishes every ``message`` frame in one hub
round trip while their acks are written. A refused send (``NotFound``, ``Forbidden``)
fails alone. If the batch transaction fails as a whole (a cid raced in from another
worker, a lost connection), each of its sends is retried on its own through
``chat.send_message``, so one bad send cannot fail the others (but not when no pooled connection could be had: that fails the
batch's sends at once, as it would have failed each alone).

Ordering: the gateway awaits each send before reading the connection's next frame, and
a worker's batches commit and publish one after another, so one worker publishes each
conversation's messages in seq order. Under load a batch is whatever queued while the
previous one was being stored; an idle worker stores a lone send at once (no timer).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import String, and_, bindparam, case, false, func, select, text, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.db import transaction, wrote_for
from app.errors import Forbidden, NotFound, QuanziError
from app.ids import new_id
from app.metrics import MESSAGES
from app.realtime.hub import USER_CHANNEL_PREFIX, user_channel
from app.runtime import Runtime, Slot
from social.chat import service as chat
from social.chat.models import Conversation, ConversationMember, Message, MessageKind

log = structlog.get_logger()

Outcome = tuple["Posted", bool] | QuanziError

_conversations = Conversation.__table__  # type: ignore[attr-defined]
_members = ConversationMember.__table__  # type: ignore[attr-defined]
_messages = Message.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Posted:
    """A stored message: what the sender's ack and the members' frame need."""

    id: str
    conversation_id: str
    seq: int
    sender_id: str
    cid: str
    kind: str
    body: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, m: Message) -> Posted:
        return cls(
            m.id, m.conversation_id, m.seq, m.sender_id or "", m.cid or "", m.kind, m.body, m.created_at
        )


@dataclass
class Send:
    """One queued send and the future its sender waits on."""

    user_id: str
    conversation_id: str
    cid: str
    text: str
    future: asyncio.Future[tuple[Posted, bool]] = field(repr=False)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.conversation_id, self.user_id, self.cid)


def batcher(rt: Runtime) -> SendBatcher:
    """This worker's batcher (one per runtime)."""
    return rt.slot(BATCHER)


class SendBatcher:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.max_batch = rt.settings.chat_send_batch_max
        self._pending: list[Send] = []
        self._flusher: asyncio.Task[None] | None = None

    async def send(
        self, *, user_id: str, conversation_id: str, cid: str, kind: str, body: dict[str, Any]
    ) -> tuple[Posted, bool]:
        """Post a member's text message with the next batch; a resent cid returns the
        stored message (and True). Raises ValidationFailed, NotFound, Forbidden."""
        text = chat.check_text(self.rt, kind=kind, body=body)
        future: asyncio.Future[tuple[Posted, bool]] = asyncio.get_running_loop().create_future()
        self._pending.append(Send(user_id, conversation_id, cid, text, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_all(), name="chat-send-batcher")
        return await future

    async def _flush_all(self) -> None:
        """Store batches until nothing is queued, then end (the next send starts a new run)."""
        batch: list[Send] = []
        try:
            while self._pending:
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
                await self._flush(batch)
        finally:
            self._flusher = None
            # Only when cancelled (shutdown) is anything left unanswered.
            left, self._pending = [*batch, *self._pending], []
            for s in left:
                if not s.future.done():
                    s.future.cancel()

    async def _flush(self, batch: list[Send]) -> None:
        try:
            async with self.rt.sessionmaker() as db:
                outcomes, frames = await store_batch(db, self.rt, batch)
        except PoolTimeout as exc:
            # No connection to be had: retrying send by send would only wait longer.
            for s in batch:
                if not s.future.done():
                    s.future.set_exception(exc)
            return
        except Exception:
            log.warning("chat_batch_failed", size=len(batch), exc_info=True)
            await self._one_by_one(batch)
            return
        MESSAGES.labels("text").inc(len(frames))
        # Committed: the senders are answered now, their acks written while the batch is
        # published (members catch up with sync should the publish fail).
        for s, outcome in zip(batch, outcomes, strict=True):
            if s.future.done():  # the sender went away
                continue
            if isinstance(outcome, QuanziError):
                s.future.set_exception(outcome)
            else:
                s.future.set_result(outcome)
        await chat.with_senders(self.rt, [frame for _, frame in frames])
        try:
            await self.rt.hub.publish_each(frames)
        except Exception:
            log.exception("chat_batch_publish_failed", size=len(frames))
        await chat.push_offline_many(
            self.rt, [([c.removeprefix(USER_CHANNEL_PREFIX) for c in channels], f) for channels, f in frames]
        )

    async def _one_by_one(self, batch: list[Send]) -> None:
        for s in batch:
            try:
                async with self.rt.sessionmaker() as db:
                    msg, resent = await chat.send_message(
                        db,
                        self.rt,
                        user_id=s.user_id,
                        conversation_id=s.conversation_id,
                        cid=s.cid,
                        kind=MessageKind.TEXT,
                        body={"text": s.text},
                    )
            except Exception as exc:  # handed to the sender, who reports it
                if not s.future.done():
                    s.future.set_exception(exc)
            else:
                if not s.future.done():
                    s.future.set_result((Posted.of(msg), resent))


async def store_batch(
    db: AsyncSession, rt: Runtime, sends: list[Send]
) -> tuple[list[Outcome], list[tuple[list[str], dict[str, Any]]]]:
    """Store a batch of checked text sends in one transaction: each send's outcome, and the
    (channels, frame) pairs to publish once committed. Locks the conversation rows."""
    now = rt.clock.now()
    async with transaction(db):
        wrote_for(db, {s.user_id for s in sends})
        conn = await db.connection()
        pairs = sorted({(s.conversation_id, s.user_id) for s in sends})
        keys = sorted({s.key for s in sends})
        rows = (
            await conn.execute(
                _batch_state,
                {
                    "b_convs": [c for c, _ in pairs],
                    "b_users": [u for _, u in pairs],
                    "k_convs": [c for c, _, _ in keys],
                    "k_users": [u for _, u, _ in keys],
                    "k_cids": [cid for _, _, cid in keys],
                },
            )
        ).all()
        # Per (conversation, sender): the conversation's last_seq and key, and whether the
        # sender is blocked; per (conversation, sender, cid): the message stored before.
        state: dict[tuple[str, str], tuple[int, str | None, bool]] = {}
        earlier: dict[tuple[str, str, str], Posted] = {}
        members: dict[str, list[str]] = {}  # the audience of each conversation's messages
        for r in rows:
            state[(r.conversation_id, r.user_id)] = (int(r.last_seq), r.direct_key, bool(r.blocked))
            members[r.conversation_id] = r.direct_key.split("|") if r.direct_key else list(r.members or ())
            if r.message_id is not None:
                earlier[(r.conversation_id, r.user_id, r.cid)] = Posted(
                    r.message_id,
                    r.conversation_id,
                    int(r.seq),
                    r.user_id,
                    r.cid,
                    r.kind,
                    r.body,
                    r.created_at,
                )
        refused = [s for s in sends if _refusal(s, state) is not None]
        if refused:
            # A resend of a message accepted before the sender lost access still gets its ack.
            earlier.update(await _sent_before(conn, refused))

        outcomes: list[Outcome | None] = []
        fresh: dict[tuple[str, str, str], Posted] = {}  # stored by this batch, by key
        next_seq: dict[str, int] = {}
        for s in sends:
            if s.key in earlier:
                outcomes.append((earlier[s.key], True))
                continue
            if s.key in fresh:
                outcomes.append(None)  # a repeat within the batch: answered like the first
                continue
            refusal = _refusal(s, state)
            if refusal is not None:
                outcomes.append(refusal)
                continue
            last_seq, _, _ = state[(s.conversation_id, s.user_id)]
            seq = next_seq[s.conversation_id] = next_seq.get(s.conversation_id, last_seq) + 1
            msg = Posted(
                new_id("m_"),
                s.conversation_id,
                seq,
                s.user_id,
                s.cid,
                MessageKind.TEXT,
                {"text": s.text},
                now,
            )
            fresh[s.key] = msg
            outcomes.append((msg, False))

        frames: list[tuple[list[str], dict[str, Any]]] = []
        if fresh:
            await _write(conn, now, next_seq, list(fresh.values()))
            for m in fresh.values():
                frames.append(([user_channel(u) for u in members[m.conversation_id]], chat.message_frame(m)))
    answered = [o if o is not None else (fresh[s.key], True) for s, o in zip(sends, outcomes, strict=True)]
    return answered, frames


async def _write(conn: AsyncConnection, now: datetime, last_seq: dict[str, int], fresh: list[Posted]) -> None:
    """Store a batch: each conversation's new ``last_seq``, the messages, and the senders'
    read markers past their own messages, in one statement."""
    # Senders have read their own messages: they do not count as unread for them.
    read_marks = sorted({(m.conversation_id, m.sender_id): m.seq for m in fresh}.items())
    bumps = sorted(last_seq.items())
    await conn.execute(
        _WRITE_BATCH,
        {
            "at": now,
            "bump_ids": [c for c, _ in bumps],
            "bump_seqs": [seq for _, seq in bumps],
            "ids": [m.id for m in fresh],
            "convs": [m.conversation_id for m in fresh],
            "seqs": [m.seq for m in fresh],
            "senders": [m.sender_id for m in fresh],
            "kinds": [m.kind for m in fresh],
            "bodies": [json.dumps(m.body) for m in fresh],
            "cids": [m.cid for m in fresh],
            "read_convs": [c for (c, _), _ in read_marks],
            "read_users": [u for (_, u), _ in read_marks],
            "read_seqs": [seq for _, seq in read_marks],
        },
    )


_WRITE_BATCH = text(
    """
WITH bumped AS (
    UPDATE conversations c SET last_seq = b.seq, last_message_at = CAST(:at AS timestamptz)
    FROM unnest(CAST(:bump_ids AS varchar[]), CAST(:bump_seqs AS int[])) AS b(id, seq)
    WHERE c.id = b.id
), stored AS (
    INSERT INTO messages (id, conversation_id, seq, sender_id, kind, body, cid, created_at)
    SELECT m.id, m.conversation_id, m.seq, m.sender_id, m.kind, CAST(m.body AS json), m.cid,
           CAST(:at AS timestamptz)
    FROM unnest(CAST(:ids AS varchar[]), CAST(:convs AS varchar[]), CAST(:seqs AS int[]),
                CAST(:senders AS varchar[]), CAST(:kinds AS varchar[]), CAST(:bodies AS text[]),
                CAST(:cids AS varchar[]))
        AS m(id, conversation_id, seq, sender_id, kind, body, cid)
)
UPDATE conversation_members cm SET last_read_seq = r.seq
FROM unnest(CAST(:read_convs AS varchar[]), CAST(:read_users AS varchar[]), CAST(:read_seqs AS int[]))
    AS r(conversation_id, user_id, seq)
WHERE cm.conversation_id = r.conversation_id AND cm.user_id = r.user_id AND cm.last_read_seq < r.seq
"""
)
"""The batch's writes on PostgreSQL, as ``_write`` describes, from parallel arrays."""


def _state_query() -> Any:
    """One query for the whole batch, locking the conversations in id order (so that two
    workers flushing at once cannot deadlock): per (conversation, sender) that is a
    membership, the conversation's last_seq and direct key, a group's members (the
    audience of its messages) and whether either side of a direct conversation blocked
    the other; joined with the sender's earlier messages that carry one of the batch's
    cids. Parameters are arrays (``b_convs`` and ``b_users`` pairwise, the sends' keys as
    ``k_convs``, ``k_users`` and ``k_cids``), so the
    statement's text is the same for every batch: prepared once per connection, planned
    once."""
    cm, c, m = _members.c, _conversations.c, _messages.c
    blocked = chat.blocked_with_others_sql(cm.conversation_id, cm.user_id)
    others = _members.alias("audience")
    audience = (
        select(func.array_agg(others.c.user_id))
        .where(others.c.conversation_id == cm.conversation_id)
        .scalar_subquery()
    )
    pairs = (
        func.unnest(bindparam("b_convs", type_=ARRAY(String)), bindparam("b_users", type_=ARRAY(String)))
        .table_valued("conversation_id", "user_id")
        .render_derived(name="pairs")
    )
    keys = (
        func.unnest(
            bindparam("k_convs", type_=ARRAY(String)),
            bindparam("k_users", type_=ARRAY(String)),
            bindparam("k_cids", type_=ARRAY(String)),
        )
        .table_valued("conversation_id", "user_id", "cid")
        .render_derived(name="keys")
    )
    # Each send's (conversation, sender, cid) is an equality probe of the unique index. (A
    # ``cid = ANY(…)`` beside the pair let the planner scan the sender's whole history in
    # the conversation and filter it: sends slowed down as history grew.)
    earlier = (
        select(
            keys.c.conversation_id.label("k_conv"),
            keys.c.user_id.label("k_user"),
            m.id,
            m.seq,
            m.cid,
            m.kind,
            m.body,
            m.created_at,
        )
        .select_from(
            keys.join(
                _messages,
                and_(
                    m.conversation_id == keys.c.conversation_id,
                    m.sender_id == keys.c.user_id,
                    m.cid == keys.c.cid,
                ),
            )
        )
        .subquery("earlier")
    )
    e = earlier.c
    return (
        select(
            cm.conversation_id,
            cm.user_id,
            c.last_seq,
            c.direct_key,
            case((c.direct_key.is_not(None), blocked), else_=false()).label("blocked"),
            case((c.direct_key.is_(None), audience), else_=None).label("members"),
            e.id.label("message_id"),
            e.seq,
            e.cid,
            e.kind,
            e.body,
            e.created_at,
        )
        .select_from(
            pairs.join(
                _members,
                and_(cm.conversation_id == pairs.c.conversation_id, cm.user_id == pairs.c.user_id),
            )
            .join(_conversations, c.id == cm.conversation_id)
            .outerjoin(earlier, and_(e.k_conv == cm.conversation_id, e.k_user == cm.user_id))
        )
        .order_by(cm.conversation_id)
        .with_for_update(of=_conversations)
    )


_batch_state = _state_query()


def _refusal(s: Send, state: dict[tuple[str, str], tuple[int, str | None, bool]]) -> QuanziError | None:
    found = state.get((s.conversation_id, s.user_id))
    if found is None:
        return NotFound("conversation not found", conversation_id=s.conversation_id)
    if found[2]:
        return Forbidden("blocked users cannot message each other")
    return None


async def _sent_before(conn: AsyncConnection, sends: list[Send]) -> dict[tuple[str, str, str], Posted]:
    m = _messages.c
    rows = await conn.execute(
        select(m.id, m.conversation_id, m.seq, m.sender_id, m.cid, m.kind, m.body, m.created_at).where(
            tuple_(m.conversation_id, m.sender_id, m.cid).in_(list({s.key for s in sends}))
        )
    )
    return {(r.conversation_id, r.sender_id, r.cid): Posted(*r) for r in rows}


BATCHER: Slot[SendBatcher] = Slot("chat.batcher", SendBatcher)
