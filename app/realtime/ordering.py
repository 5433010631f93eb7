"""In-order delivery of ``message`` pushes on one connection, per conversation.

Workers commit and publish independently, so a connection can receive seq 7 of a
conversation a moment before seq 6. ``InOrder`` sits between the hub subscription and
the socket: a push that is the next seq goes out at once; one further ahead is held
while the gap lasts at most ``wait_s``, after which the connection fills the gap from
the database (every seq below a published one is committed: seqs are assigned under
the conversation's row lock) and releases what it held. A push for a seq this
connection already delivered (by a gap fill) is dropped.

The first push of a conversation on a connection sets where it starts; a push below
that start was never delivered here and goes straight out (the client dedupes and
syncs, as ``docs/protocol.md`` says). Pure logic: the caller passes ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Frame = dict[str, Any]


@dataclass
class _Conversation:
    first: int  # the first seq delivered on this connection
    next: int  # the seq expected next
    held: dict[int, Frame] = field(default_factory=dict)
    deadline: float | None = None  # when the gap below the held frames gets filled


@dataclass(frozen=True)
class Gap:
    """Fetch the messages with ``after_seq < seq < before_seq`` and hand them to ``filled``."""

    conversation_id: str
    after_seq: int
    before_seq: int


class InOrder:
    def __init__(self, wait_s: float, max_held: int = 1000) -> None:
        self.wait_s = wait_s
        self.max_held = max_held
        self._conversations: dict[str, _Conversation] = {}
        self._waiting: set[str] = set()  # conversations holding frames

    def push(self, frame: Frame, now: float) -> list[Frame]:
        """The frames to send now for a frame from the hub (non-message frames pass)."""
        if frame.get("op") != "message":
            return [frame]
        cid, seq = frame.get("conversation_id"), frame.get("seq")
        if not isinstance(cid, str) or not isinstance(seq, int):
            return [frame]
        conv = self._conversations.get(cid)
        if conv is None:
            self._conversations[cid] = _Conversation(first=seq, next=seq + 1)
            return [frame]
        if seq < conv.first:
            return [frame]  # older than anything delivered here: not a repeat
        if seq < conv.next or seq in conv.held:
            return []  # delivered already (by a gap fill)
        if seq > conv.next:
            conv.held[seq] = frame
            self._waiting.add(cid)
            if conv.deadline is None:
                conv.deadline = now + self.wait_s
            if len(conv.held) > self.max_held:
                conv.deadline = now  # fill at once rather than hold more
            return []
        out = [frame]
        conv.next = seq + 1
        out.extend(self._release(cid, conv))
        return out

    def next_deadline(self) -> float | None:
        """When the earliest held gap is due to be filled, if any."""
        deadlines = [self._conversations[c].deadline for c in self._waiting]
        return min((d for d in deadlines if d is not None), default=None)

    def due(self, now: float) -> list[Gap]:
        """The gaps that have waited long enough: fill each and pass the result to ``filled``."""
        gaps = []
        for cid in sorted(self._waiting):
            c = self._conversations[cid]
            if c.deadline is not None and c.deadline <= now:
                gaps.append(Gap(cid, c.next - 1, min(c.held)))
        return gaps

    def filled(self, gap: Gap, frames: list[Frame]) -> list[Frame]:
        """Frames to send once a gap was fetched (``frames``: its messages, in seq order).
        Whatever was held is released even if the fetch came back short, so nothing is
        kept back for good; the client syncs any seq still missing."""
        conv = self._conversations[gap.conversation_id]
        out = []
        for f in frames:
            seq = f.get("seq")
            if isinstance(seq, int) and conv.next <= seq < gap.before_seq:
                out.append(f)
                conv.next = seq + 1
        conv.next = max(conv.next, gap.before_seq)
        # Another gap above what this releases is due at once (it has waited as long).
        out.extend(self._release(gap.conversation_id, conv))
        return out

    def _release(self, cid: str, conv: _Conversation) -> list[Frame]:
        out = []
        while conv.next in conv.held:
            out.append(conv.held.pop(conv.next))
            conv.next += 1
        if not conv.held:
            conv.deadline = None
            self._waiting.discard(cid)
        return out
