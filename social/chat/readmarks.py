"""Read marks: the rule (``move``), and the WebSocket's coalescing of them (``batcher``).

A member's read marker only moves forward and never past the conversation's last
message; when it moves, the member's other devices get a ``read`` frame. ``move`` applies
that rule to any number of (conversation, member, seq) marks in one statement, its own
transaction (no BEGIN or COMMIT round trips), and answers per mark: its conversation's
``last_seq`` and the member's ``last_read_seq`` after, or nothing for a non-member.

A client marks read as messages arrive, so in a group of five every message sent brings
up to four marks: one statement each (four round trips with the membership read) cost
the database more than the message. ``await batcher(rt).mark(…)`` queues a socket's mark
and waits for its outcome; a worker's flusher task runs while marks are queued and writes
all that queued during the previous write in one ``move`` (the latest seq per member and
conversation), then publishes the ``read`` frames in one hub round trip. Like the send
batcher, it has no timer: an idle worker writes a lone mark at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import structlog
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import is_deadlock, reads_alone
from app.errors import NotFound
from app.realtime.hub import user_channel
from app.runtime import Runtime, Slot

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class Marked:
    """Where a member stands after a mark: ``moved`` when the marker went forward."""

    last_seq: int
    last_read_seq: int
    moved: bool

    @property
    def unread(self) -> int:
        return max(0, self.last_seq - self.last_read_seq)


_MOVE = text(
    """
WITH r AS (
    SELECT * FROM unnest(CAST(:convs AS text[]), CAST(:users AS text[]), CAST(:seqs AS int[]))
        AS r(conversation_id, user_id, seq)
), cur AS (
    SELECT r.conversation_id, r.user_id, LEAST(r.seq, c.last_seq) AS target, c.last_seq, cm.last_read_seq
    FROM r
    JOIN conversation_members cm ON cm.conversation_id = r.conversation_id AND cm.user_id = r.user_id
    JOIN conversations c ON c.id = r.conversation_id
    -- in (conversation, user) order: two coalesced writes never wait on each other in a
    -- cycle (a send batch, which moves its senders' marks, may: ``move`` then runs again)
    ORDER BY r.conversation_id, r.user_id
    FOR NO KEY UPDATE OF cm
), moved AS (
    UPDATE conversation_members cm SET last_read_seq = cur.target
    FROM cur
    WHERE cm.conversation_id = cur.conversation_id AND cm.user_id = cur.user_id
      AND cm.last_read_seq < cur.target
    RETURNING cm.conversation_id, cm.user_id, cm.last_read_seq
)
SELECT cur.conversation_id, cur.user_id, cur.last_seq,
       COALESCE(moved.last_read_seq, cur.last_read_seq) AS last_read_seq,
       moved.user_id IS NOT NULL AS moved
FROM cur LEFT JOIN moved ON moved.conversation_id = cur.conversation_id AND moved.user_id = cur.user_id
"""
)


async def move(db: AsyncSession, marks: dict[tuple[str, str], int]) -> dict[tuple[str, str], Marked]:
    """Move the read markers of (conversation_id, user_id) to their seq (never back, never
    past the last message), in one statement on its own; the members' outcomes (a
    non-member is left out). Publishing the ``read`` frames is the caller's."""
    if not marks:
        return {}
    keys = list(marks)
    params = {"convs": [c for c, _ in keys], "users": [u for _, u in keys], "seqs": [marks[k] for k in keys]}
    await reads_alone(db)
    try:
        rows = (await db.execute(_MOVE, params)).all()
    except DBAPIError as exc:
        # A send batch moving its senders' marks took some of these rows in another order
        # (it holds its conversations first): PostgreSQL broke the cycle. Once more.
        if not is_deadlock(exc):
            raise
        await db.rollback()
        rows = (await (await reads_alone(db)).execute(_MOVE, params)).all()
    return {
        (r.conversation_id, r.user_id): Marked(int(r.last_seq), int(r.last_read_seq), bool(r.moved))
        for r in rows
    }


def read_frame(conversation_id: str, seq: int) -> dict[str, object]:
    """The frame a member's other devices get when their read marker moved."""
    return {"op": "read", "conversation_id": conversation_id, "seq": seq}


@dataclass
class _Pending:
    seq: int
    futures: list[asyncio.Future[None]] = field(default_factory=list)


class ReadMarkBatcher:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._pending: dict[tuple[str, str], _Pending] = {}
        self._flusher: asyncio.Task[None] | None = None

    async def mark(self, *, user_id: str, conversation_id: str, seq: int) -> None:
        """Move my read marker with the next write. Raises NotFound (not a member)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        pending = self._pending.setdefault((conversation_id, user_id), _Pending(seq))
        pending.seq = max(pending.seq, seq)
        pending.futures.append(future)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_all(), name="chat-read-marks")
        await future

    async def _flush_all(self) -> None:
        batch: dict[tuple[str, str], _Pending] = {}
        try:
            while self._pending:
                batch, self._pending = self._pending, {}
                await self._flush(batch)
        finally:
            self._flusher = None
            left = [*batch.values(), *self._pending.values()]
            self._pending = {}
            for p in left:  # only when cancelled (shutdown)
                for f in p.futures:
                    if not f.done():
                        f.cancel()

    async def _flush(self, batch: dict[tuple[str, str], _Pending]) -> None:
        try:
            async with self.rt.sessionmaker() as db:
                marked = await move(db, {k: p.seq for k, p in batch.items()})
        except Exception as exc:
            for p in batch.values():
                for f in p.futures:
                    if not f.done():
                        f.set_exception(exc)
            return
        frames = []
        for (conversation_id, user_id), p in batch.items():
            outcome = marked.get((conversation_id, user_id))
            error = (
                None
                if outcome is not None
                else NotFound("conversation not found", conversation_id=conversation_id)
            )
            for f in p.futures:
                if f.done():
                    continue
                if error is not None:
                    f.set_exception(error)
                else:
                    f.set_result(None)
            if outcome is not None and outcome.moved:
                frames.append(([user_channel(user_id)], read_frame(conversation_id, outcome.last_read_seq)))
        if frames:
            try:
                await self.rt.hub.publish_each(frames)
            except Exception:
                log.exception("chat_read_marks_publish_failed", size=len(frames))


BATCHER: Slot[ReadMarkBatcher] = Slot("chat.read_marks", ReadMarkBatcher)


def batcher(rt: Runtime) -> ReadMarkBatcher:
    """This worker's read-mark batcher (one per runtime)."""
    return rt.slot(BATCHER)
