"""Transfers between friends: money waits in a per-transfer escrow until it is accepted,
declined, or refunded by the 24 h sweep.

A transfer leaves ``pending`` exactly once: accept, decline and refund are each a
conditional ``UPDATE … WHERE status = 'pending'`` (the row lock) and only the statement
that changed the row moves the escrow. So a transfer is
paid once or refunded once, also when the receiver accepts while two workers sweep.

Lock order in every use case: the transfer's own rows, then ledger accounts (``post``
sorts them), then the conversation row (``post_message_last``, just before commit) — no cycles.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import expiry
from app.db import end_read, execute, is_unique_violation
from app.errors import Conflict, Expired, Forbidden, LimitExceeded, NotFound, ValidationFailed
from app.ids import new_id
from app.ledger import service as ledger
from app.metrics import TRANSFERS, count_after_commit
from app.notifications.service import notify
from app.runtime import Runtime
from app.wallet import service as wallet
from social.chat import service as chat
from social.friends import service as friends
from social.transfers.models import Transfer
from social.transfers.schemas import TransferPublic

ESCROW_KIND = "transfer_escrow"


_transfers = Transfer.__table__  # type: ignore[attr-defined]
_INSERT_TRANSFER = insert(_transfers)
_SETTLE = (
    update(_transfers)
    .where(
        _transfers.c.id == bindparam("p_id"),
        _transfers.c.receiver_id == bindparam("p_receiver"),
        _transfers.c.status == "pending",
        _transfers.c.expires_at > bindparam("p_now"),
    )
    .values(status=bindparam("p_status"), resolved_at=bindparam("p_now"))
    .returning(*_transfers.c)
)
"""Accept or decline: leaves ``pending`` only once (the row lock), returning the row."""


def escrow_of(transfer_id: str) -> str:
    return ledger.escrow_account("transfer", transfer_id)


def to_public(t: Transfer) -> TransferPublic:
    return TransferPublic(
        id=t.id,
        status=t.status,
        expires_at=t.expires_at,
        from_user_id=t.sender_id,
        to_user_id=t.receiver_id,
        amount_fen=t.amount_fen,
        note=t.note,
        conversation_id=t.conversation_id,
        created_at=t.created_at,
        resolved_at=t.resolved_at,
    )


def _body(t: Transfer, status: str) -> dict[str, Any]:
    return {
        "transfer_id": t.id,
        "amount_fen": t.amount_fen,
        "from_user_id": t.sender_id,
        "to_user_id": t.receiver_id,
        "note": t.note,
        "status": status,
        "expires_at": t.expires_at.isoformat(),
    }


async def _direct_conversation(db: AsyncSession, rt: Runtime, a: str, b: str) -> str:
    """The pair's direct chat, created in this transaction if need be. Two first transfers
    between a pair at once both try to create it: the loser's insert fails on the unique
    pair key, so it runs in a savepoint and the loser then reads the winner's row."""
    existing = await chat.direct_conversation_id(db, a, b)
    if existing is not None:
        return existing
    try:
        async with db.begin_nested():
            return (await chat.get_or_create_direct(db, rt, a, b)).id
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
    return (await chat.get_or_create_direct(db, rt, a, b)).id


async def _conversation_for(
    db: AsyncSession, rt: Runtime, *, sender_id: str, receiver_id: str, conversation_id: str | None
) -> str:
    if conversation_id is None:
        return await _direct_conversation(db, rt, sender_id, receiver_id)
    if not await chat.is_member(db, conversation_id, sender_id):
        raise NotFound("conversation not found", conversation_id=conversation_id)
    if not await chat.is_member(db, conversation_id, receiver_id):
        raise ValidationFailed("the receiver is not in that conversation", field="conversation_id")
    return conversation_id


async def create_transfer(
    db: AsyncSession,
    rt: Runtime,
    *,
    sender_id: str,
    to_user_id: str,
    amount_fen: int,
    note: str = "",
    conversation_id: str | None = None,
) -> TransferPublic:
    """Move ``amount_fen`` from the sender's wallet into a new pending transfer's escrow and
    post it in the chat. Runs in the caller's transaction (``idem.run``).

    Raises ValidationFailed, LimitExceeded (per transfer; the wallet's daily outgoing
    limit), Forbidden (``friends.check_may_send_money``), NotFound, InsufficientFunds."""
    if to_user_id == sender_id:
        raise ValidationFailed("cannot transfer to yourself", field="to_user_id")
    if amount_fen > rt.settings.transfer_max_fen:
        raise LimitExceeded("transfer above the limit", max_fen=rt.settings.transfer_max_fen)
    await friends.check_may_send_money(db, sender_id=sender_id, receiver_id=to_user_id)
    conv_id = await _conversation_for(
        db, rt, sender_id=sender_id, receiver_id=to_user_id, conversation_id=conversation_id
    )
    await wallet.count_outgoing(db, rt, user_id=sender_id, amount_fen=amount_fen)
    now = rt.clock.now()
    t = Transfer(
        id=new_id("tr_"),
        sender_id=sender_id,
        receiver_id=to_user_id,
        amount_fen=amount_fen,
        note=note,
        conversation_id=conv_id,
        status="pending",
        created_at=now,
        expires_at=now + timedelta(seconds=rt.settings.pending_ttl_s),
    )
    await execute(db, _INSERT_TRANSFER, t.model_dump())
    await ledger.open_account(db, account_id=escrow_of(t.id), kind=ESCROW_KIND, owner_id=None, now=now)
    await ledger.post(
        db,
        kind="transfer",
        entries=ledger.move(ledger.wallet_account(sender_id), escrow_of(t.id), amount_fen),
        now=now,
        ref_id=t.id,
        memo="transfer sent",
    )
    await notify(
        db,
        rt,
        user_id=to_user_id,
        kind="transfer_received",
        data={"transfer_id": t.id, "from_user_id": sender_id, "amount_fen": amount_fen, "note": note},
    )
    await chat.post_message_last(
        db, rt, conversation_id=conv_id, sender_id=sender_id, kind="transfer", body=_body(t, "pending")
    )
    count_after_commit(db, TRANSFERS.labels("sent"))
    return to_public(t)


async def _explain_not_pending(
    db: AsyncSession, *, transfer_id: str, user_id: str, now: datetime
) -> NoReturn:
    t = await db.get(Transfer, transfer_id)
    if t is None or user_id not in (t.sender_id, t.receiver_id):
        raise NotFound("transfer not found", transfer_id=transfer_id)
    if user_id != t.receiver_id:
        raise Forbidden("only the receiver can accept or decline a transfer")
    if t.status != "pending":
        raise Conflict(f"the transfer is already {t.status}", status=t.status)
    raise Expired("the transfer has expired and is being refunded", expires_at=t.expires_at.isoformat())


async def _settle(
    db: AsyncSession, rt: Runtime, *, transfer_id: str, user_id: str, accept: bool
) -> TransferPublic:
    now = rt.clock.now()
    status = "accepted" if accept else "declined"
    settled = {"p_id": transfer_id, "p_receiver": user_id, "p_now": now, "p_status": status}
    row = (await execute(db, _SETTLE, settled)).first()
    if row is None:
        await _explain_not_pending(db, transfer_id=transfer_id, user_id=user_id, now=now)
    t = Transfer(**row._mapping)
    if accept:  # money lands only where it may (a block since it was sent: decline, or wait for the refund)
        await friends.check_may_send_money(
            db, sender_id=t.sender_id, receiver_id=t.receiver_id, friends_only=False
        )
    payee = t.receiver_id if accept else t.sender_id
    await ledger.post(
        db,
        kind="transfer_accept" if accept else "transfer_decline",
        entries=ledger.move(escrow_of(t.id), ledger.wallet_account(payee), t.amount_fen),
        now=now,
        ref_id=t.id,
        memo=f"transfer {status}",
    )
    # The message is written last (post_message_last): it locks the conversation row until commit.
    if accept:
        await notify(
            db,
            rt,
            user_id=t.sender_id,
            kind="transfer_accepted",
            data={"transfer_id": t.id, "to_user_id": t.receiver_id, "amount_fen": t.amount_fen},
        )
        # The receiver's "received" bubble, as in WeChat.
        await chat.post_message_last(
            db,
            rt,
            conversation_id=t.conversation_id,
            sender_id=user_id,
            kind="transfer",
            body=_body(t, status),
        )
    else:
        await _tell_sender_money_is_back(db, rt, t, reason="declined")
    count_after_commit(db, TRANSFERS.labels(status))
    return to_public(t)


async def _tell_sender_money_is_back(db: AsyncSession, rt: Runtime, t: Transfer, *, reason: str) -> None:
    """A notification to the sender and a system message in the chat: declined or expired."""
    await notify(
        db,
        rt,
        user_id=t.sender_id,
        kind="transfer_refunded",
        data={"transfer_id": t.id, "amount_fen": t.amount_fen, "reason": reason},
    )
    status, event = (
        ("declined", "transfer_declined") if reason == "declined" else ("refunded", "transfer_refunded")
    )
    await chat.post_message_last(
        db,
        rt,
        conversation_id=t.conversation_id,
        sender_id=None,
        kind="system",
        body={"event": event, **_body(t, status)},
    )


async def accept_transfer(db: AsyncSession, rt: Runtime, *, transfer_id: str, user_id: str) -> TransferPublic:
    """Receiver takes the money (escrow → receiver). In the caller's transaction; locks the
    transfer row (conditional UPDATE). Raises NotFound, Forbidden (the sender's; a block
    either way since it was sent: ``friends.check_may_send_money``), Conflict, Expired."""
    return await _settle(db, rt, transfer_id=transfer_id, user_id=user_id, accept=True)


async def decline_transfer(
    db: AsyncSession, rt: Runtime, *, transfer_id: str, user_id: str
) -> TransferPublic:
    """Receiver sends the money back (escrow → sender). In the caller's transaction; locks
    the transfer row. Raises NotFound, Forbidden, Conflict, Expired."""
    return await _settle(db, rt, transfer_id=transfer_id, user_id=user_id, accept=False)


async def access_transfer(db: AsyncSession, *, transfer_id: str, user_id: str) -> TransferPublic:
    """A transfer as seen by one of its two parties. Raises NotFound for anyone else."""
    t = await db.get(Transfer, transfer_id)
    await end_read(db)
    if t is None or user_id not in (t.sender_id, t.receiver_id):
        raise NotFound("transfer not found", transfer_id=transfer_id)
    return to_public(t)


async def refund_one(db: AsyncSession, rt: Runtime, *, transfer_id: str) -> bool:
    """Refund one expired pending transfer to its sender, in the caller's transaction.

    Returns False when it is no longer pending (someone else settled it). Locks the row."""
    now = rt.clock.now()
    changed = (
        await db.execute(
            update(Transfer)
            .where(Transfer.id == transfer_id, Transfer.status == "pending", Transfer.expires_at <= now)
            .values(status="refunded", resolved_at=now)
            .returning(Transfer.id)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if changed is None:
        return False
    t = await db.get(Transfer, transfer_id, populate_existing=True)
    assert t is not None
    await ledger.post(
        db,
        kind="transfer_refund",
        entries=ledger.move(escrow_of(t.id), ledger.wallet_account(t.sender_id), t.amount_fen),
        now=now,
        ref_id=t.id,
        memo="transfer expired: refunded",
    )
    await _tell_sender_money_is_back(db, rt, t, reason="expired")
    return True


async def refund_expired(rt: Runtime, *, max_rounds: int = 50) -> int:
    """The sweep: refund every pending transfer past its expiry; returns how many this call
    refunded (``app.expiry.sweep``: catches up after downtime, safe on several workers)."""

    async def handle(db: AsyncSession, transfer_id: str) -> bool:
        return await refund_one(db, rt, transfer_id=transfer_id)

    pending = select(Transfer.id).where(Transfer.status == "pending")
    return await expiry.sweep(
        rt, pending=pending, expires_at=Transfer.expires_at, handle=handle, max_rounds=max_rounds
    )
