"""Transfers between friends: money waits in a per-transfer escrow until it is accepted,
declined, or refunded by the 24 h sweep.

Each use case is one call of a SQL function (migration 1002): ``CREATE_SQL`` and
``SETTLE_SQL`` (accept, decline, refund), which use the other features' rules through
their SQL functions (friends' money rule, the wallet's daily limit, the ledger's posting,
notifications, chat's message), so each rule is written once and a request is one round
trip between BEGIN and COMMIT. Python keeps the input checks, the ids, and the pushes
after commit.

A transfer leaves ``pending`` exactly once: accept, decline and refund are each a
conditional ``UPDATE … WHERE status = 'pending'`` (the row lock) and only the call
that changed the row moves the escrow. So a transfer is
paid once or refunded once, also when the receiver accepts while two workers sweep.

Lock order in every use case: the transfer's own rows, then ledger accounts
(``ledger_post`` sorts them), then the conversation row (the message, the function's
last write) — no cycles.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import expiry
from app.db import end_read, execute, is_unique_violation
from app.errors import LimitExceeded, NotFound, ValidationFailed
from app.idempotency import service as idempotency
from app.ids import new_id
from app.ledger import service as ledger
from app.metrics import TRANSFERS, count_after_commit
from app.notifications import service as notifications
from app.runtime import Runtime
from app.uow import UnitOfWork
from social.chat import service as chat
from social.transfers.models import Transfer
from social.transfers.schemas import TransferPublic

ESCROW_KIND = "transfer_escrow"


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


async def _first_direct_conversation(db: AsyncSession, rt: Runtime, a: str, b: str) -> str:
    """The pair's direct chat for their first transfer: in the use case's transaction, or,
    when the use case is one autocommit statement (the route's), in a transaction of its
    own before it (the two may chat anyway; the function found no chat and wrote nothing)."""
    uow = UnitOfWork.current(db)
    if uow is None or not uow.autocommit:
        return await _direct_conversation(db, rt, a, b)
    async with rt.sessionmaker() as own:
        return (await chat.get_or_create_direct(own, rt, a, b)).id


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


CREATE_SQL = "transfer_create"
"""SQL (migration 1002): a transfer's creation in one call — the money rule
(``friends.CHECK_MAY_SEND_MONEY_SQL``), the conversation (the pair's direct one:
``chat.DIRECT_ID_SQL``; or the one given, both members: ``chat.IS_MEMBER_SQL``), the
daily outgoing limit (``wallet.COUNT_OUTGOING_SQL``), the row, the escrow and its posting
(``ledger.OPEN_ACCOUNT_SQL``, ``ledger.POST_SQL``), the receiver's notification
(``notifications.ADD_SQL``) and the chat message (``chat.APPEND_MESSAGE_SQL``). Returns
(conversation_id, notification_data, message_body, message_seq, members), the
conversation NULL when the pair has no direct conversation yet (nothing written)."""
SETTLE_SQL = "transfer_settle"
"""SQL (migration 1002): accept, decline or refund in one call — leaves ``pending`` once
(the row lock; for the receiver, otherwise says why: not_found, forbidden, conflict,
expired), the money rule on accepting, the posting, the sender's notification and the
chat message. No row: a refund found it no longer pending."""

_CREATE = text(
    f"SELECT * FROM {CREATE_SQL}(:id, :sender, :receiver, CAST(:amount AS bigint), :note, :conversation,"
    " CAST(:now AS timestamptz), CAST(:expires_at AS timestamptz), CAST(:day AS date),"
    " CAST(:daily_limit AS bigint), :wallet, :escrow, :txn, :notification, :message, :idem_key,"
    " :idem_fingerprint, CAST(:idem_status AS integer))"
)
_SETTLE = text(
    f"SELECT * FROM {SETTLE_SQL}(:id, :user, CAST(:now AS timestamptz), :status, :wallet_prefix, :escrow,"
    " :txn, :notification, :message, :idem_key, :idem_fingerprint, CAST(:idem_status AS integer))"
)


def _announce(
    db: AsyncSession,
    rt: Runtime,
    got: Any,
    *,
    notify_user: str | None,
    notify_kind: str,
    conversation_id: str,
    sender_id: str | None,
    kind: str,
    ids: dict[str, Any],
) -> None:
    """After-commit pushes of what the SQL function stored: the notification (none for an
    erased sender) and the message (one push to the notified user's phone: the
    notification's)."""
    now = ids["now"]
    if notify_user is not None:
        notifications.added_in_sql(
            db,
            rt,
            notification_id=ids["notification"],
            user_id=notify_user,
            kind=notify_kind,
            data=got.notification_data,
            created_at=now,
        )
    chat.appended_in_sql(
        db,
        rt,
        chat.AppendedMessage(
            id=ids["message"],
            conversation_id=conversation_id,
            seq=int(got.message_seq),
            sender_id=sender_id,
            kind=kind,
            body=got.message_body,
            created_at=now,
        ),
        got.members,
        pushed=() if notify_user is None else {notify_user},
    )


def _fresh_ids(now: datetime) -> dict[str, Any]:
    return {"now": now, "txn": new_id("lt_"), "notification": new_id("n_"), "message": new_id("m_")}


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
    post it in the chat. Runs in the caller's transaction (``idem.run``), in one statement
    (``CREATE_SQL``) but for a pair's first transfer, which creates their chat first.

    Raises ValidationFailed, LimitExceeded (per transfer; the wallet's daily outgoing
    limit), Forbidden (``friends.check_may_send_money``), NotFound, InsufficientFunds."""
    if to_user_id == sender_id:
        raise ValidationFailed("cannot transfer to yourself", field="to_user_id")
    if amount_fen > rt.settings.transfer_max_fen:
        raise LimitExceeded("transfer above the limit", max_fen=rt.settings.transfer_max_fen)
    now = rt.clock.now()
    transfer_id = new_id("tr_")
    ids = _fresh_ids(now)
    record = idempotency.Pending.take(db)  # the function stores the request's key and answer
    params = {
        "id": transfer_id,
        "sender": sender_id,
        "receiver": to_user_id,
        "amount": amount_fen,
        "note": note,
        "conversation": conversation_id,
        "expires_at": now + timedelta(seconds=rt.settings.pending_ttl_s),
        "day": rt.clock.today(),
        "daily_limit": rt.settings.outgoing_daily_max_fen,
        "wallet": ledger.wallet_account(sender_id),
        "escrow": escrow_of(transfer_id),
        **ids,
        **idempotency.key_params(record),
    }
    got = (await execute(db, _CREATE, params)).one()
    if got.conversation_id is None:  # the pair's first transfer: their chat first
        params["conversation"] = await _first_direct_conversation(db, rt, sender_id, to_user_id)
        got = (await execute(db, _CREATE, params)).one()
    if record is not None:
        record.stored(got.response)
    _announce(
        db,
        rt,
        got,
        notify_user=to_user_id,
        notify_kind="transfer_received",
        conversation_id=got.conversation_id,
        sender_id=sender_id,
        kind="transfer",
        ids=ids,
    )
    count_after_commit(db, TRANSFERS.labels("sent"))
    return TransferPublic.model_validate(got.response)


async def _settle(
    db: AsyncSession,
    rt: Runtime,
    *,
    transfer_id: str,
    user_id: str | None,
    status: str,
    record: idempotency.Pending | None = None,
) -> Any:
    """``SETTLE_SQL`` and the after-commit pushes; the function's row, None when a refund
    found the transfer no longer pending."""
    ids = _fresh_ids(rt.clock.now())
    params = {
        "id": transfer_id,
        "user": user_id,
        "status": status,
        "wallet_prefix": ledger.WALLET_PREFIX,
        "escrow": escrow_of(transfer_id),
        **ids,
        **idempotency.key_params(record),
    }
    got = (await execute(db, _SETTLE, params)).first()
    if got is None:
        return None
    if record is not None:
        record.stored(got.response)
    _announce(
        db,
        rt,
        got,
        notify_user=got.notification_user,
        notify_kind=got.notification_kind,
        conversation_id=got.t_conversation_id,
        sender_id=got.message_sender,
        kind=got.message_kind,
        ids=ids,
    )
    return got


async def _answer(
    db: AsyncSession, rt: Runtime, *, transfer_id: str, user_id: str, accept: bool
) -> TransferPublic:
    status = "accepted" if accept else "declined"
    record = idempotency.Pending.take(db)  # the function stores the request's key and answer
    got = await _settle(db, rt, transfer_id=transfer_id, user_id=user_id, status=status, record=record)
    count_after_commit(db, TRANSFERS.labels(status))
    return TransferPublic.model_validate(got.response)


async def accept_transfer(db: AsyncSession, rt: Runtime, *, transfer_id: str, user_id: str) -> TransferPublic:
    """Receiver takes the money (escrow → receiver). In the caller's transaction; locks the
    transfer row (conditional UPDATE). Raises NotFound, Forbidden (the sender's; a block
    either way since it was sent: ``friends.check_may_send_money``), Conflict, Expired."""
    return await _answer(db, rt, transfer_id=transfer_id, user_id=user_id, accept=True)


async def decline_transfer(
    db: AsyncSession, rt: Runtime, *, transfer_id: str, user_id: str
) -> TransferPublic:
    """Receiver sends the money back (escrow → sender). In the caller's transaction; locks
    the transfer row. Raises NotFound, Forbidden, Conflict, Expired."""
    return await _answer(db, rt, transfer_id=transfer_id, user_id=user_id, accept=False)


async def access_transfer(db: AsyncSession, *, transfer_id: str, user_id: str) -> TransferPublic:
    """A transfer as seen by one of its two parties. Raises NotFound for anyone else."""
    t = await db.get(Transfer, transfer_id)
    await end_read(db)
    if t is None or user_id not in (t.sender_id, t.receiver_id):
        raise NotFound("transfer not found", transfer_id=transfer_id)
    return to_public(t)


async def refund_one(db: AsyncSession, rt: Runtime, *, transfer_id: str) -> bool:
    """Refund one expired pending transfer to its sender, in the caller's transaction
    (``SETTLE_SQL``). Returns False when it is no longer pending (someone else settled it).
    Locks the row."""
    return await _settle(db, rt, transfer_id=transfer_id, user_id=None, status="refunded") is not None


async def refund_for_erasure(db: AsyncSession, rt: Runtime, user_id: str) -> None:
    """``DELETE /v1/me``: refund every transfer still pending to or from the erased member
    to its sender now, through the same refund as the sweep (``SETTLE_SQL``), in the
    erasure's transaction. Money sent to them goes back to the sender; money they sent
    goes back to their wallet, which the erasure then pays back to the bank. Locks each
    transfer row."""
    pending = (
        await db.execute(
            select(Transfer.id)
            .where(
                Transfer.status == "pending",
                or_(Transfer.sender_id == user_id, Transfer.receiver_id == user_id),
            )
            .order_by(Transfer.id)
        )
    ).scalars()
    for transfer_id in list(pending):
        await _settle(db, rt, transfer_id=transfer_id, user_id=user_id, status="refunded")


async def personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> dict[str, Any]:
    """The transfers a member sent or received (their export's ``transfers`` section)."""
    rows = (
        await db.execute(
            select(Transfer)
            .where(or_(Transfer.sender_id == user_id, Transfer.receiver_id == user_id))
            .order_by(Transfer.created_at, Transfer.id)
        )
    ).scalars()
    return {"transfers": [to_public(t).model_dump(mode="json") for t in rows]}


async def refund_expired(rt: Runtime, *, max_rounds: int = 50) -> int:
    """The sweep: refund every pending transfer past its expiry; returns how many this call
    refunded (``app.expiry.sweep``: catches up after downtime, safe on several workers)."""

    async def handle(db: AsyncSession, transfer_id: str) -> bool:
        return await refund_one(db, rt, transfer_id=transfer_id)

    pending = select(Transfer.id).where(Transfer.status == "pending")
    return await expiry.sweep(
        rt, pending=pending, expires_at=Transfer.expires_at, handle=handle, max_rounds=max_rounds
    )
