"""Chat's WebSocket ops (``send``, ``sync``, ``read``) and its gap filler, registered with
the gateway through ``app.features`` (see ``app/realtime/ops.py``).

A ``send`` goes through the worker's group-commit batcher (``batcher.py``) and is answered
with an ``ack`` before the connection reads its next frame; ``sync`` answers the missed
messages as ``message`` frames, then ``synced``; ``read`` moves the read marker. The
protocol for client developers is ``docs/protocol.md``.
"""

from __future__ import annotations

from app.errors import QuanziError
from app.realtime.ops import Frame, Socket, WsOp
from app.realtime.ordering import Gap
from app.runtime import Runtime
from social.chat import service as chat
from social.chat.batcher import batcher
from social.chat.schemas import (
    AckFrame,
    MessageFrame,
    ReadFrame,
    ReadMarkerFrame,
    SendFrame,
    SyncedFrame,
    SyncFrame,
)


async def handle_send(socket: Socket, frame: SendFrame) -> None:
    # Stored with the other sends queued on this worker, in one transaction.
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
    for m in rows:
        await socket.write(chat.message_frame(m))
    await socket.write(
        {"op": "synced", "conversation_id": frame.conversation_id, "seq": synced, "more": more}
    )


async def handle_read(socket: Socket, frame: ReadFrame) -> None:
    async with socket.rt.sessionmaker() as db:
        await chat.mark_read(
            db, socket.rt, user_id=socket.user_id, conversation_id=frame.conversation_id, seq=frame.seq
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
    return [chat.message_frame(m) for m in rows]


OPS = [
    WsOp("send", SendFrame, handle_send),
    WsOp("sync", SyncFrame, handle_sync),
    WsOp("read", ReadFrame, handle_read),
]

SERVER_FRAMES = [AckFrame, MessageFrame, SyncedFrame, ReadMarkerFrame]
