"""Conversations and messages: the storage side every chat feature posts through.

``post_message`` assigns the next seq by bumping ``conversations.last_seq`` (row lock on
PostgreSQL, write lock on SQLite) in the caller's transaction, so seqs have no gaps, and
publishes the ``message`` frame to every member after commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import after_commit, is_unique_violation, transaction
from app.errors import NotFound
from app.ids import new_id
from app.realtime.hub import user_channel
from app.runtime import Runtime
from social.chat.models import Conversation, ConversationMember, Message
from social.friends.service import pair

MESSAGE_KINDS = ("text", "image", "transfer", "red_packet", "system")


def message_frame(m: Message) -> dict[str, Any]:
    return {
        "op": "message",
        "conversation_id": m.conversation_id,
        "seq": m.seq,
        "message": {
            "id": m.id,
            "sender_id": m.sender_id,
            "kind": m.kind,
            "body": m.body,
            "created_at": m.created_at.isoformat(),
        },
    }


async def is_member(db: AsyncSession, conversation_id: str, user_id: str) -> bool:
    found = await db.scalar(
        select(ConversationMember.user_id).where(
            ConversationMember.conversation_id == conversation_id, ConversationMember.user_id == user_id
        )
    )
    return found is not None


async def member_ids(db: AsyncSession, conversation_id: str) -> list[str]:
    rows = await db.execute(
        select(ConversationMember.user_id).where(ConversationMember.conversation_id == conversation_id)
    )
    return list(rows.scalars().all())


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
    conv = Conversation(id=new_id("c_"), kind="direct", direct_key=key, created_by=a, created_at=now)
    if db.in_transaction() and db.info.get("after_commit") is not None:
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
        if not is_unique_violation(exc):
            raise
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
    now = rt.clock.now()
    seq = (
        await db.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)  # type: ignore[arg-type]
            .values(last_seq=Conversation.last_seq + 1, last_message_at=now)
            .returning(Conversation.last_seq)
        )
    ).scalar_one_or_none()
    if seq is None:
        raise NotFound("conversation not found", conversation_id=conversation_id)
    msg = Message(
        id=new_id("m_"),
        conversation_id=conversation_id,
        seq=int(seq),
        sender_id=sender_id,
        kind=kind,
        body=body,
        cid=cid,
        created_at=now,
    )
    db.add(msg)
    await db.flush()
    members = await member_ids(db, conversation_id)
    frame = message_frame(msg)

    async def publish() -> None:
        await rt.hub.publish_many([user_channel(u) for u in members], frame)

    after_commit(db, publish)
    return msg
