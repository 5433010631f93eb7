"""Helpers shared by the transfer and red-packet tests."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import select

from app.db import transaction
from app.ids import new_id
from app.ledger import service as ledger
from app.notifications.models import Notification
from app.runtime import Runtime
from social.chat.models import Conversation, ConversationMember, Message
from social.friends.models import Block

_keys = itertools.count(1)


def idem(person: Any, key: str | None = None) -> dict[str, str]:
    """The person's auth headers plus a fresh (or given) Idempotency-Key."""
    return {**person.headers, "Idempotency-Key": key or f"k-{next(_keys)}"}


async def messages(rt: Runtime, conversation_id: str) -> list[Message]:
    async with rt.sessionmaker() as db:
        rows = await db.execute(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.seq)
        )
        return list(rows.scalars().all())


async def notifications(rt: Runtime, user_id: str, kind: str | None = None) -> list[Notification]:
    async with rt.sessionmaker() as db:
        q = select(Notification).where(Notification.user_id == user_id)
        if kind is not None:
            q = q.where(Notification.kind == kind)
        return list((await db.execute(q.order_by(Notification.id))).scalars().all())


async def make_group(rt: Runtime, members: list[Any], title: str = "group") -> str:
    """A group conversation with these members (straight into the chat tables)."""
    now = rt.clock.now()
    async with rt.sessionmaker() as db, transaction(db):
        conv = Conversation(
            id=new_id("c_"), kind="group", title=title, created_by=members[0].id, created_at=now
        )
        db.add(conv)
        await db.flush()
        for m in members:
            db.add(ConversationMember(conversation_id=conv.id, user_id=m.id, joined_at=now))
    return conv.id


async def block(rt: Runtime, blocker: Any, blocked: Any) -> None:
    async with rt.sessionmaker() as db, transaction(db):
        db.add(Block(blocker_id=blocker.id, blocked_id=blocked.id, created_at=rt.clock.now()))


async def balance(rt: Runtime, account_id: str) -> int:
    async with rt.sessionmaker() as db:
        return await ledger.balance(db, account_id)


async def audit_ok(rt: Runtime) -> bool:
    async with rt.sessionmaker() as db:
        result = await ledger.audit(db)
    assert result.ok, result
    return True
