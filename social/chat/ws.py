"""Chat's WebSocket ops (``send``, ``sync``, ``read``, ``typing``, ``presence``) and its gap filler, registered with
the gateway through ``app.features`` (see ``app/realtime/ops.py``).

A text ``send`` goes through the worker's group-commit batcher (``batcher.py``), an image
``send`` straight through ``chat.send_message``; either is answered with an ``ack`` before
the connection reads its next frame; ``sync`` answers the missed
messages as ``message`` frames, then ``synced``; ``read`` moves the read marker;
``typing`` is relayed to the other members and ``presence`` answers who of them is
online (both ephemeral: never stored, never shown to blocked users). The
protocol for client developers is ``docs/protocol.md``.
"""

from __future__ import annotations

from app.errors import QuanziError
from app.realtime import presence
from app.realtime.hub import user_channel
from app.realtime.ops import Frame, Socket, WsOp
from app.realtime.ordering import Gap
from app.runtime import Runtime
from social.chat import readmarks
from social.chat import service as chat
from social.chat.batcher import batcher
from social.chat.models import MessageKind
from social.chat.schemas import (
    AckFrame,
    MessageFrame,
    PresenceFrame,
    PresenceState,
    ReadFrame,
    ReadMarkerFrame,
    SendFrame,
    SyncedFrame,
    SyncFrame,
    TypingFrame,
    TypingNotice,
)


async def handle_send(socket: Socket, frame: SendFrame) -> None:
    msg: chat.StoredMessage
    if frame.body.kind == MessageKind.IMAGE:
        # Rare, and it reads the sender's upload first: stored on its own.
        async with socket.rt.sessionmaker() as db:
            msg, _ = await chat.send_message(
                db,
                socket.rt,
                user_id=socket.user_id,
                conversation_id=frame.conversation_id,
                cid=frame.cid,
                kind=frame.body.kind,
                body=frame.body.model_dump(),
            )
    else:
        # Stored with the other text sends queued on this worker, in one transaction.
        msg, _ = await batcher(socket.rt).send(
            user_id=socket.user_id,
            conversation_id=frame.conversation_id,
            cid=frame.cid,
            kind=frame.body.kind,
            body=frame.body.model_dump(),
        )
    await socket.write(
        {
            "op": "ack",
            "cid": frame.cid,
            "conversation_id": msg.conversation_id,
            "seq": msg.seq,
            "message_id": msg.id,
        }
    )


async def handle_sync(socket: Socket, frame: SyncFrame) -> None:
    rt = socket.rt
    async with rt.sessionmaker() as db:
        rows, synced, more = await chat.messages_after(
            db,
            user_id=socket.user_id,
            conversation_id=frame.conversation_id,
            after_seq=frame.after_seq,
            limit=rt.settings.ws_sync_max,
        )
    for f in await chat.message_frames(rt, rows):
        await socket.write(f)
    await socket.write(
        {"op": "synced", "conversation_id": frame.conversation_id, "seq": synced, "more": more}
    )


async def handle_read(socket: Socket, frame: ReadFrame) -> None:
    """Coalesced with the worker's other read marks (``readmarks.batcher``)."""
    await readmarks.batcher(socket.rt).mark(
        user_id=socket.user_id, conversation_id=frame.conversation_id, seq=frame.seq
    )


async def handle_typing(socket: Socket, frame: TypingFrame) -> None:
    """Relay "typing" to the other members (not to blocked users); at most one per user and
    conversation every ``ws_typing_every_s`` (the rest are dropped); never stored."""
    rt = socket.rt
    every_ms = int(rt.settings.ws_typing_every_s * 1000)
    if every_ms and not await rt.redis.set(
        rt.keys("typing", socket.user_id, frame.conversation_id), 1, nx=True, px=every_ms
    ):
        return
    async with rt.sessionmaker() as db:
        audience = await chat.ephemeral_audience(
            db, user_id=socket.user_id, conversation_id=frame.conversation_id
        )
    if audience:
        await rt.hub.publish_many(
            [user_channel(u) for u in audience],
            {"op": "typing", "conversation_id": frame.conversation_id, "user_id": socket.user_id},
        )


async def handle_presence(socket: Socket, frame: PresenceFrame) -> None:
    """Answer which other members have a live socket (blocked users never show)."""
    rt = socket.rt
    async with rt.sessionmaker() as db:
        audience = await chat.ephemeral_audience(
            db, user_id=socket.user_id, conversation_id=frame.conversation_id
        )
    live = await presence.online(rt, audience)
    await socket.write(
        {
            "op": "presence",
            "conversation_id": frame.conversation_id,
            "online": sorted(u for u in audience if u in live),
        }
    )


async def fill_gap(rt: Runtime, user_id: str, gap: Gap) -> list[Frame]:
    """The messages of a gap in a connection's pushes (empty if they cannot be read)."""
    try:
        async with rt.sessionmaker() as db:
            rows, _, _ = await chat.messages_after(
                db,
                user_id=user_id,
                conversation_id=gap.conversation_id,
                after_seq=gap.after_seq,
                limit=min(gap.before_seq - gap.after_seq - 1, rt.settings.ws_sync_max),
            )
    except QuanziError:
        return []
    return await chat.message_frames(rt, rows)


OPS = [
    WsOp("send", SendFrame, handle_send),
    WsOp("sync", SyncFrame, handle_sync),
    # Not metered: read marks are coalesced (one write per flush, the latest seq per member
    # and conversation), so a socket marking each message it shows costs no round trip each.
    WsOp("read", ReadFrame, handle_read, metered=False),
    WsOp("typing", TypingFrame, handle_typing, metered=False),  # throttled in handle_typing
    WsOp("presence", PresenceFrame, handle_presence),
]

SERVER_FRAMES = [AckFrame, MessageFrame, SyncedFrame, ReadMarkerFrame, TypingNotice, PresenceState]
