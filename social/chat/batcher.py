"""Group commit for WebSocket text sends: one write per batch of sends, not per send.

``await batcher(rt).send(user_id=…, conversation_id=…, cid=…, kind=…, body=…)`` checks the
text (``chat.check_text``), queues the send and waits for its outcome: the same
``(Message, resent)`` or the same domain error as ``chat.send_message``. A worker has one
batcher; its flusher task runs while sends are queued and takes up to
``chat_send_batch_max`` of them at a time. For one batch it runs two statements, each its
own transaction (no BEGIN or COMMIT round trips):

1. a read: earlier messages with the same (conversation, sender, cid) — a resend gets the
   stored message back, as does a repeat inside the batch —, the senders' memberships,
   the groups' members and, in direct conversations, blocks;
2. ``chat_append_messages`` (chat's sequence rule, ``chat.APPEND_MESSAGES_SQL``) with the
   accepted sends: it locks their conversations in id order (two workers flushing at once
   cannot deadlock), bumps each one's ``last_seq`` once, numbers, inserts and moves each
   sender's read mark. The conversation rows are locked only for that statement and its
   commit (they used to be locked from the read on, across four round trips, so the two
   workers' batches, which share most conversations, ran one after the other).

Both statements take arrays, so their text is the same for every batch (prepared and
planned once per connection). Membership is read before the lock: a member removed in the
same instant may still have a message stored (as if sent just before).

After the commit it answers the sends, then publishes every ``message`` frame in one hub
round trip while their acks are written. A refused send (``NotFound``, ``Forbidden``)
fails alone. If the batch's write fails as a whole (a cid raced in from another
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
from sqlalchemy import String, and_, bindparam, case, false, func, select, text, true, tuple_
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
    """Store a batch of checked text sends, each statement its own transaction: each send's
    outcome, and the (channels, frame) pairs to publish (the messages are committed)."""
    now = rt.clock.now()
    async with transaction(db, autocommit=True):
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
        # Per (conversation, sender): the conversation's direct key and whether the sender
        # is blocked; per (conversation, sender, cid): the message stored before.
        state: dict[tuple[str, str], bool] = {}
        earlier: dict[tuple[str, str, str], Posted] = {}
        members: dict[str, list[str]] = {}  # the audience of each conversation's messages
        for r in rows:
            state[(r.conversation_id, r.user_id)] = bool(r.blocked)
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

        fresh: dict[tuple[str, str, str], Send] = {}  # to store, once per key, in send order
        for s in sends:
            if s.key not in earlier and s.key not in fresh and _refusal(s, state) is None:
                fresh[s.key] = s
        stored = await _write(conn, now, list(fresh.values())) if fresh else {}

    outcomes: list[Outcome] = []
    for s in sends:
        if s.key in earlier:
            outcomes.append((earlier[s.key], True))
        elif s.key in stored:
            # a repeat within the batch is answered like a resend of the first
            outcomes.append((stored[s.key], fresh[s.key] is not s))
        else:
            refusal = _refusal(s, state)
            outcomes.append(
                refusal
                if refusal is not None
                else NotFound("conversation not found", conversation_id=s.conversation_id)
            )
    frames = [
        ([user_channel(u) for u in members[m.conversation_id]], chat.message_frame(m))
        for m in stored.values()
    ]
    return outcomes, frames


async def _write(
    conn: AsyncConnection, now: datetime, sends: list[Send]
) -> dict[tuple[str, str, str], Posted]:
    """Append the sends' messages (``chat.APPEND_MESSAGES_SQL``, one statement, its own
    transaction): the stored messages by key, in seq order."""
    ids = [new_id("m_") for _ in sends]
    rows = await conn.execute(
        _APPEND_BATCH,
        {
            "ids": ids,
            "convs": [s.conversation_id for s in sends],
            "senders": [s.user_id for s in sends],
            "kinds": [MessageKind.TEXT.value] * len(sends),
            "bodies": [json.dumps({"text": s.text}) for s in sends],
            "cids": [s.cid for s in sends],
            "at": now,
        },
    )
    seqs = {r.message_id: int(r.message_seq) for r in rows}
    stored = {
        s.key: Posted(
            i, s.conversation_id, seqs[i], s.user_id, s.cid, MessageKind.TEXT, {"text": s.text}, now
        )
        for i, s in zip(ids, sends, strict=True)
        if i in seqs
    }
    return dict(sorted(stored.items(), key=lambda kv: (kv[1].conversation_id, kv[1].seq)))


_APPEND_BATCH = text(
    f"""
SELECT a.message_id, a.message_seq
FROM {chat.APPEND_MESSAGES_SQL}(
    CAST(:ids AS text[]), CAST(:convs AS text[]), CAST(:senders AS text[]), CAST(:kinds AS text[]),
    CAST(CAST(:bodies AS text[]) AS json[]), CAST(:cids AS text[]), CAST(:at AS timestamptz)) a
"""
)


def _state_query() -> Any:
    """One query for the whole batch (no lock: numbering is ``chat_append_messages``'s):
    per (conversation, sender) that is a membership, the conversation's direct key, a
    group's members (the audience of its messages) and whether either side of a direct
    conversation blocked the other; joined with the sender's earlier messages that carry
    one of the batch's cids. Parameters are arrays (``b_convs`` and ``b_users`` pairwise, the sends' keys as
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
    # Each send's (conversation, sender, cid) is one probe of the unique index (a LATERAL
    # lookup), done once for the batch (a materialised CTE). Joined as a plain subquery,
    # the planner, misled by a new month partition's statistics, hash-joined every
    # message of the month and did so again for each (conversation, sender): the read
    # took 12-40 ms under load and grew with history.
    found = (
        select(m.id, m.seq, m.cid, m.kind, m.body, m.created_at)
        .where(
            m.conversation_id == keys.c.conversation_id,
            m.sender_id == keys.c.user_id,
            m.cid == keys.c.cid,
        )
        .limit(1)
        .lateral("found")
    )
    earlier = (
        select(keys.c.conversation_id.label("k_conv"), keys.c.user_id.label("k_user"), *found.c)
        .select_from(keys.join(found, true()))
        .cte("earlier")
        .prefix_with("MATERIALIZED")
    )
    e = earlier.c
    return select(
        cm.conversation_id,
        cm.user_id,
        c.direct_key,
        case((c.direct_key.is_not(None), blocked), else_=false()).label("blocked"),
        case((c.direct_key.is_(None), audience), else_=None).label("members"),
        e.id.label("message_id"),
        e.seq,
        e.cid,
        e.kind,
        e.body,
        e.created_at,
    ).select_from(
        pairs.join(
            _members,
            and_(cm.conversation_id == pairs.c.conversation_id, cm.user_id == pairs.c.user_id),
        )
        .join(_conversations, c.id == cm.conversation_id)
        .outerjoin(earlier, and_(e.k_conv == cm.conversation_id, e.k_user == cm.user_id))
    )


_batch_state = _state_query()


def _refusal(s: Send, state: dict[tuple[str, str], bool]) -> QuanziError | None:
    blocked = state.get((s.conversation_id, s.user_id))
    if blocked is None:
        return NotFound("conversation not found", conversation_id=s.conversation_id)
    if blocked:
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
