"""Group commit for WebSocket text sends: one transaction per batch of sends, not per send.

``await batcher(rt).send(user_id=…, conversation_id=…, cid=…, kind=…, body=…)`` checks the
text (``chat.check_text``), queues the send and waits for its outcome: the same
``(Message, resent)`` or the same domain error as ``chat.send_message``. A worker has one
batcher; its flusher task runs while sends are queued and takes up to
``chat_send_batch_max`` of them at a time. For one batch, in one transaction, it:

1. looks up earlier messages with the same (conversation, sender, cid) — a resend gets
   the stored message back, as does a repeat inside the batch — and the senders'
   memberships and, in direct conversations, blocks (a few queries for the whole batch);
2. locks the batch's conversation rows in id order (``SELECT … ORDER BY id FOR UPDATE``,
   so two workers flushing at once take the locks in the same order and cannot
   deadlock), numbers the accepted sends from each ``last_seq`` on and stores the new
   ``last_seq`` (one executemany);
3. inserts the messages and moves each sender's read marker past their own message.

After the commit it publishes every ``message`` frame in one hub round trip, then
answers the sends. A refused send (``NotFound``, ``Forbidden``) fails alone. If the batch
transaction fails as a whole (a cid raced in from another worker, a lost connection),
each of its sends is retried on its own through ``chat.send_message``, so one bad send
cannot fail the others.

Ordering: the gateway awaits each send before reading the connection's next frame, and
a worker's batches commit and publish one after another, so one worker publishes each
conversation's messages in seq order. Under load a batch is whatever queued while the
previous one was being stored; an idle worker stores a lone send at once (no timer).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db import transaction
from app.errors import Forbidden, NotFound, QuanziError
from app.ids import new_id
from app.realtime.hub import user_channel
from app.runtime import Runtime
from social.chat import service as chat
from social.chat.models import Conversation, ConversationMember, Message
from social.friends.models import Block

log = structlog.get_logger()

Outcome = tuple[Message, bool] | QuanziError

_conversations = Conversation.__table__  # type: ignore[attr-defined]
_members = ConversationMember.__table__  # type: ignore[attr-defined]
_messages = Message.__table__  # type: ignore[attr-defined]

_bump_seq = (
    _conversations.update()
    .where(_conversations.c.id == bindparam("b_id"))
    .values(last_seq=bindparam("b_seq"), last_message_at=bindparam("b_at"))
)
_mark_read = (
    _members.update()
    .where(
        _members.c.conversation_id == bindparam("b_conversation"),
        _members.c.user_id == bindparam("b_user"),
        _members.c.last_read_seq < bindparam("b_seq"),
    )
    .values(last_read_seq=bindparam("b_seq"))
)


@dataclass
class Send:
    """One queued send and the future its sender waits on."""

    user_id: str
    conversation_id: str
    cid: str
    text: str
    future: asyncio.Future[tuple[Message, bool]] = field(repr=False)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.conversation_id, self.user_id, self.cid)


def batcher(rt: Runtime) -> SendBatcher:
    """This worker's batcher (one per runtime)."""
    found = rt.extras.get("chat.batcher")
    if found is None:
        found = rt.extras["chat.batcher"] = SendBatcher(rt)
    return found  # type: ignore[no-any-return]


class SendBatcher:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.max_batch = rt.settings.chat_send_batch_max
        self._pending: list[Send] = []
        self._flusher: asyncio.Task[None] | None = None

    async def send(
        self, *, user_id: str, conversation_id: str, cid: str, kind: str, body: dict[str, Any]
    ) -> tuple[Message, bool]:
        """Post a member's text message with the next batch; a resent cid returns the
        stored message (and True). Raises ValidationFailed, NotFound, Forbidden."""
        text = chat.check_text(self.rt, kind=kind, body=body)
        future: asyncio.Future[tuple[Message, bool]] = asyncio.get_running_loop().create_future()
        self._pending.append(Send(user_id, conversation_id, cid, text, future))
        if self._flusher is None:
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
        except Exception:
            log.warning("chat_batch_failed", size=len(batch), exc_info=True)
            await self._one_by_one(batch)
            return
        try:
            await self.rt.hub.publish_each(frames)
        except Exception:
            # Committed: the acks still go out; members catch up with sync.
            log.exception("chat_batch_publish_failed", size=len(frames))
        for s, outcome in zip(batch, outcomes, strict=True):
            if s.future.done():  # the sender went away
                continue
            if isinstance(outcome, QuanziError):
                s.future.set_exception(outcome)
            else:
                s.future.set_result(outcome)

    async def _one_by_one(self, batch: list[Send]) -> None:
        for s in batch:
            try:
                async with self.rt.sessionmaker() as db:
                    result = await chat.send_message(
                        db,
                        self.rt,
                        user_id=s.user_id,
                        conversation_id=s.conversation_id,
                        cid=s.cid,
                        kind="text",
                        body={"text": s.text},
                    )
            except Exception as exc:  # handed to the sender, who reports it
                if not s.future.done():
                    s.future.set_exception(exc)
            else:
                if not s.future.done():
                    s.future.set_result(result)


async def store_batch(
    db: AsyncSession, rt: Runtime, sends: list[Send]
) -> tuple[list[Outcome], list[tuple[list[str], dict[str, Any]]]]:
    """Store a batch of checked text sends in one transaction: each send's outcome, and the
    (channels, frame) pairs to publish once committed. Locks the conversation rows."""
    now = rt.clock.now()
    async with transaction(db):
        earlier: dict[tuple[str, str, str], Message] = {
            (m.conversation_id, m.sender_id or "", m.cid or ""): m
            for m in (
                await db.execute(
                    select(Message).where(
                        tuple_(Message.conversation_id, Message.sender_id, Message.cid).in_(
                            list({s.key for s in sends})
                        )
                    )
                )
            ).scalars()
        }
        access = await _access(db, [s for s in sends if s.key not in earlier])

        outcomes: list[Outcome | None] = []
        fresh: dict[tuple[str, str, str], Message] = {}  # stored by this batch, by key
        by_conversation: dict[str, list[Message]] = {}
        for s in sends:
            if s.key in earlier:
                outcomes.append((earlier[s.key], True))
                continue
            if s.key in fresh:
                outcomes.append(None)  # a repeat within the batch: answered like the first
                continue
            refusal = access.get((s.conversation_id, s.user_id))
            if refusal is not None:
                outcomes.append(refusal)
                continue
            msg = Message(
                id=new_id("m_"),
                conversation_id=s.conversation_id,
                seq=0,
                sender_id=s.user_id,
                kind="text",
                body={"text": s.text},
                cid=s.cid,
                created_at=now,
            )
            fresh[s.key] = msg
            by_conversation.setdefault(s.conversation_id, []).append(msg)
            outcomes.append((msg, False))

        frames: list[tuple[list[str], dict[str, Any]]] = []
        if by_conversation:
            ids = sorted(by_conversation)
            locked = (
                await db.execute(
                    select(Conversation.id, Conversation.last_seq, Conversation.direct_key)
                    .where(col(Conversation.id).in_(ids))
                    .order_by(col(Conversation.id))
                    .with_for_update()
                )
            ).all()
            last_seq = {c: int(seq) for c, seq, _ in locked}
            bumps, read_marks = [], {}
            for conversation_id in ids:
                seq = int(last_seq[conversation_id])
                for msg in by_conversation[conversation_id]:
                    seq += 1
                    msg.seq = seq
                    read_marks[(conversation_id, msg.sender_id)] = seq
                bumps.append({"b_id": conversation_id, "b_seq": seq, "b_at": now})
            await db.execute(_bump_seq, bumps)
            await db.execute(
                _messages.insert(),
                [
                    {
                        "id": m.id,
                        "conversation_id": m.conversation_id,
                        "seq": m.seq,
                        "sender_id": m.sender_id,
                        "kind": m.kind,
                        "body": m.body,
                        "cid": m.cid,
                        "created_at": m.created_at,
                    }
                    for msgs in by_conversation.values()
                    for m in msgs
                ],
            )
            # Senders have read their own messages: they do not count as unread for them.
            await db.execute(
                _mark_read,
                [
                    {"b_conversation": c, "b_user": u, "b_seq": seq}
                    for (c, u), seq in sorted(read_marks.items())
                ],
            )
            members = await _audiences(db, {c: key for c, _, key in locked})
            for msgs in by_conversation.values():
                for m in msgs:
                    frames.append(
                        ([user_channel(u) for u in members[m.conversation_id]], chat.message_frame(m))
                    )
    answered = [o if o is not None else (fresh[s.key], True) for s, o in zip(sends, outcomes, strict=True)]
    return answered, frames


async def _access(db: AsyncSession, sends: list[Send]) -> dict[tuple[str, str], QuanziError | None]:
    """Per (conversation, sender): None when the sender may post, else the refusal
    (NotFound when not a member, Forbidden when blocked in a direct conversation)."""
    pairs = list({(s.conversation_id, s.user_id) for s in sends})
    if not pairs:
        return {}
    rows = (
        await db.execute(
            select(ConversationMember.conversation_id, ConversationMember.user_id, Conversation.direct_key)
            .join(Conversation, Conversation.id == ConversationMember.conversation_id)
            .where(tuple_(ConversationMember.conversation_id, ConversationMember.user_id).in_(pairs))
        )
    ).all()
    peers: dict[tuple[str, str], str] = {}
    for conversation_id, user_id, direct_key in rows:
        peers[(conversation_id, user_id)] = ""
        if direct_key:
            lo, _, hi = direct_key.partition("|")
            peers[(conversation_id, user_id)] = hi if lo == user_id else lo
    ties = {(u, p) for (_, u), p in peers.items() if p} | {(p, u) for (_, u), p in peers.items() if p}
    blocked: set[tuple[str, str]] = set()
    if ties:
        blocked = {
            (a, b)
            for a, b in (
                await db.execute(
                    select(Block.blocker_id, Block.blocked_id).where(
                        tuple_(Block.blocker_id, Block.blocked_id).in_(list(ties))
                    )
                )
            ).all()
        }
    out: dict[tuple[str, str], QuanziError | None] = {}
    for conversation_id, user_id in pairs:
        peer = peers.get((conversation_id, user_id))
        if peer is None:
            out[(conversation_id, user_id)] = NotFound(
                "conversation not found", conversation_id=conversation_id
            )
        elif peer and ((user_id, peer) in blocked or (peer, user_id) in blocked):
            out[(conversation_id, user_id)] = Forbidden("blocked users cannot message each other")
        else:
            out[(conversation_id, user_id)] = None
    return out


async def _audiences(db: AsyncSession, direct_keys: dict[str, str | None]) -> dict[str, list[str]]:
    """Who gets each conversation's messages: a direct conversation's members are in its
    key; a group's are looked up (one query for all the groups)."""
    out = {c: key.split("|") if key else [] for c, key in direct_keys.items()}
    groups = [c for c, key in direct_keys.items() if not key]
    if groups:
        for conversation_id, user_id in (
            await db.execute(
                select(ConversationMember.conversation_id, ConversationMember.user_id).where(
                    col(ConversationMember.conversation_id).in_(groups)
                )
            )
        ).all():
            out[conversation_id].append(user_id)
    return out
