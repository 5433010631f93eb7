"""Red packets in a conversation: created from the sender's wallet into a per-packet
escrow, grabbed share by share, what is left refunded to the sender after 24 h.

Exactly-once grabs, on any number of workers, are decided in the database:

- the shares are cut at creation (``split.py``) and stored in grab order;
- a grab is one conditional ``UPDATE red_packets SET remaining_count = remaining_count - 1
  WHERE status = 'open' AND remaining_count > 0 AND expires_at > now`` — it takes the
  packet's row lock, so the grabs of one packet queue, and never goes below zero; the
  grab takes share ``count - remaining_count_before``;
- the claim row's primary key (packet, user) makes a second grab by the same user fail
  (checked under the packet lock, so it is answered ``already_claimed`` and the
  transaction, decrement included, is rolled back);
- in front of that, a Redis ticket counter (``gate.py``) answers ``sold_out`` without
  queueing on the row's lock once every share is taken or being taken — a fast path
  only; a ticket is given back when its grab's transaction rolls back.

Who may grab: members of the conversation; in a direct chat only the other person
(not the sender); in a group every member including the sender (as in WeChat), so
``count`` may be at most the number of members who may grab. An ``exclusive`` packet has
one share for one named member. Who may send whom money is the one rule of
``friends.may_send_money`` (as for transfers): in a direct chat friends only; an
``exclusive`` packet and every grab refused across a block either way. A packet counts
against the wallet's daily outgoing limit (``wallet.count_outgoing``), shared with transfers.

Lock order: packet row, ledger accounts (sorted by ``post``), conversation row.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import expiry
from app.auth import service as auth
from app.db import end_read, execute, on_rollback
from app.errors import (
    AlreadyClaimed,
    LimitExceeded,
    NotFound,
    SoldOut,
    ValidationFailed,
)
from app.idempotency import service as idempotency
from app.ids import new_id
from app.ledger import service as ledger
from app.metrics import RED_PACKET_GRABS, RED_PACKETS_SENT, count_after_commit
from app.notifications.service import notify
from app.runtime import Runtime
from social.chat import service as chat
from social.red_packets import gate
from social.red_packets.models import RedPacket, RedPacketClaim
from social.red_packets.schemas import ClaimPublic, GrabPublic, RedPacketCreated, RedPacketPublic
from social.red_packets.split import luckiest_index, split

ESCROW_KIND = "red_packet_escrow"
_rng = random.SystemRandom()


def escrow_of(packet_id: str) -> str:
    return ledger.escrow_account("red_packet", packet_id)


async def create_packet(
    db: AsyncSession,
    rt: Runtime,
    *,
    sender_id: str,
    conversation_id: str,
    total_fen: int,
    count: int,
    mode: str,
    to_user_id: str | None = None,
    greeting: str = "",
    rng: random.Random | None = None,
) -> RedPacketCreated:
    """Put ``total_fen`` from the sender's wallet into a new packet's escrow, cut its shares
    and post it in the conversation. Runs in the caller's transaction (``idem.run``), in
    one statement (``CREATE_SQL``).

    Raises NotFound (not a member), Forbidden (``friends.check_may_send_money``: in a direct
    chat as for a transfer; an exclusive packet in a group, a block either way),
    LimitExceeded (per packet; the wallet's daily outgoing limit, shared with transfers),
    ValidationFailed, InsufficientFunds."""
    settings = rt.settings
    if total_fen > settings.red_packet_max_fen:
        raise LimitExceeded("red packet above the limit", max_fen=settings.red_packet_max_fen)
    if count > settings.red_packet_max_count:
        raise ValidationFailed(
            f"a red packet has 1–{settings.red_packet_max_count} shares",
            field="count",
            max_count=settings.red_packet_max_count,
        )
    if total_fen < count:
        raise ValidationFailed("every share needs at least 1 fen", field="total_fen")
    if mode == "exclusive" and count != 1:
        raise ValidationFailed("an exclusive packet has one share", field="count")
    now = rt.clock.now()
    packet_id = new_id("rp_")
    message_id = new_id("m_")
    record = idempotency.Pending.take(db)  # the function stores the request's key and answer
    params = {
        "id": packet_id,
        "conversation": conversation_id,
        "sender": sender_id,
        "mode": mode,
        "to_user": to_user_id,
        "greeting": greeting,
        "total": total_fen,
        "count": count,
        "shares": json.dumps(split(mode, total_fen, count, rng or _rng)),
        "now": now,
        "expires_at": now + timedelta(seconds=settings.pending_ttl_s),
        "day": rt.clock.today(),
        "daily_limit": settings.outgoing_daily_max_fen,
        "wallet": ledger.wallet_account(sender_id),
        "escrow": escrow_of(packet_id),
        "txn": new_id("lt_"),
        "message": message_id,
        **idempotency.key_params(record),
    }
    got = (await execute(db, _CREATE, params)).one()
    if record is not None:
        record.stored(got.response)
    chat.appended_in_sql(
        db,
        rt,
        chat.AppendedMessage(
            id=message_id,
            conversation_id=conversation_id,
            seq=int(got.message_seq),
            sender_id=sender_id,
            kind="red_packet",
            body=got.message_body,
            created_at=now,
        ),
        got.members,
    )
    count_after_commit(db, RED_PACKETS_SENT)
    return RedPacketCreated.model_validate(got.response)


CREATE_SQL = "red_packet_create"
"""SQL (migration 2051): the whole sending of a packet in one call — the conversation and
membership (``chat.CONVERSATION_KIND_SQL``, ``chat.MEMBER_IDS_SQL``; not_found), who may be sent money (``friends.CHECK_MAY_SEND_MONEY_SQL``: in a
direct chat friends only; an exclusive packet in a group, no block either way), the
packet's rules (validation_error: exclusive packets, more shares than members who may
grab), the daily outgoing limit (``wallet.COUNT_OUTGOING_SQL``), the packet, its escrow
and posting (``ledger.POST_SQL``; insufficient_funds), the ``red_packet`` message
(``chat.APPEND_MESSAGE_SQL``, last) and, given the request's key, its idempotency record.
Returns (response, message_body, message_seq, members)."""
_CREATE = text(
    f"SELECT * FROM {CREATE_SQL}(:id, :conversation, :sender, :mode, :to_user, :greeting,"
    " CAST(:total AS bigint), CAST(:count AS integer), CAST(:shares AS json), CAST(:now AS timestamptz),"
    " CAST(:expires_at AS timestamptz), CAST(:day AS date), CAST(:daily_limit AS bigint), :wallet, :escrow,"
    " :txn, :message, :idem_key, :idem_fingerprint, CAST(:idem_status AS integer))"
)


_REMAINING = text("SELECT remaining_count FROM red_packets WHERE id = :p_packet")

REFUSE_SQL = "red_packet_refuse"
"""SQL (migration 1000): ``red_packet_refuse(packet_id, user_id, now)`` raises why the
user may not take a share (``qz_raise``): not_found (no packet, or not a member:
``chat.IS_MEMBER_SQL``), forbidden (not for this user; the sender in a direct chat),
already_claimed, expired, sold_out. The one statement of who may grab."""
GRAB_SQL = "red_packet_grab"
"""SQL (migration 1000): the whole grab in one call — ``REFUSE_SQL``; the next share (the
packet's row lock, conditions re-checked on the locked row); the claim (its primary key
makes a concurrent second grab by the same user ``already_claimed``); the money rule
(``friends.CHECK_MAY_SEND_MONEY_SQL``, a block either way since the packet was sent);
the posting (``ledger.POST_SQL``); the system message (``chat.APPEND_MESSAGE_SQL``).
Given the request's Idempotency-Key (``idempotency.Pending``), it writes the key's
record with the answer (``idempotency.RECORD_SQL``). Returns (response, amount_fen,
remaining_count, conversation_id, message_seq, message_body, members)."""

_REFUSE = text(f"SELECT {REFUSE_SQL}(:p_packet, :p_user, CAST(:p_now AS timestamptz))")
_GRAB = text(
    f"SELECT * FROM {GRAB_SQL}(:p_packet, :p_user, CAST(:p_now AS timestamptz), :p_escrow, :p_wallet,"
    " :p_txn, :p_message, :p_idem_key, :p_idem_fingerprint, CAST(:p_idem_status AS integer))"
)


async def grab(db: AsyncSession, rt: Runtime, *, packet_id: str, user_id: str) -> GrabPublic:
    """Take the next share of a packet into the user's wallet. Runs in the caller's
    transaction (``idem.run``), in one statement (``GRAB_SQL``), which also writes the
    request's idempotency record with the answer (``idempotency.Pending``); locks the
    packet row.

    Raises NotFound (no packet, or not a member), Forbidden (not for this user; a block
    either way with the sender: ``friends.check_may_send_money``), AlreadyClaimed,
    SoldOut, Expired."""
    now = rt.clock.now()
    params = {"p_packet": packet_id, "p_user": user_id, "p_now": now}

    async def remaining_in_db() -> int:
        return int((await execute(db, _REMAINING, params)).scalar() or 0)

    ticket = await gate.take(rt, packet_id, user_id=user_id, remaining_in_db=remaining_in_db)
    if ticket != gate.TAKEN:  # say why from the row, without queueing on its lock
        await execute(db, _REFUSE, params)
        if ticket == gate.ALREADY:  # this user's other grab is in flight
            raise AlreadyClaimed("you already grabbed this red packet")
        raise SoldOut("every share has been taken")
    on_rollback(db, lambda: gate.give_back(rt, packet_id, user_id=user_id))  # no grab, no ticket
    message_id = new_id("m_")
    record = idempotency.Pending.take(db)  # the function stores the request's key and answer
    got = (
        await execute(
            db,
            _GRAB,
            {
                **params,
                "p_escrow": escrow_of(packet_id),
                "p_wallet": ledger.wallet_account(user_id),
                "p_txn": new_id("lt_"),
                "p_message": message_id,
                **idempotency.key_params(record, prefix="p_"),
            },
        )
    ).one()
    if record is not None:
        record.stored(got.response)
    chat.appended_in_sql(
        db,
        rt,
        chat.AppendedMessage(
            id=message_id,
            conversation_id=got.conversation_id,
            seq=int(got.message_seq),
            sender_id=None,
            kind="system",
            body=got.message_body,
            created_at=now,
        ),
        got.members,
    )
    count_after_commit(db, RED_PACKET_GRABS)
    return GrabPublic(
        packet_id=packet_id, amount_fen=int(got.amount_fen), remaining_count=got.remaining_count
    )


def _public_status(p: RedPacket, rt: Runtime) -> str:
    if p.status == "open" and p.expires_at <= rt.clock.now():
        return "expired"
    return p.status


async def access_packet(db: AsyncSession, rt: Runtime, *, packet_id: str, user_id: str) -> RedPacketPublic:
    """A packet and its claims, for members of its conversation. Raises NotFound for others."""
    p = await db.get(RedPacket, packet_id)
    if p is None or not await chat.is_member(db, p.conversation_id, user_id):
        await end_read(db)
        raise NotFound("red packet not found", packet_id=packet_id)
    claims = (
        (
            await db.execute(
                select(RedPacketClaim)
                .where(RedPacketClaim.packet_id == packet_id)
                .order_by(RedPacketClaim.idx)
            )
        )
        .scalars()
        .all()
    )
    cards = await auth.person_cards(db, [p.sender_id, *(c.user_id for c in claims)])
    await end_read(db)
    luckiest = None
    if p.mode == "random" and p.status == "finished" and claims:
        luckiest = claims[luckiest_index([c.amount_fen for c in claims])].user_id
    return RedPacketPublic(
        id=p.id,
        conversation_id=p.conversation_id,
        sender_id=p.sender_id,
        sender=cards.get(p.sender_id),
        mode=p.mode,
        to_user_id=p.to_user_id,
        greeting=p.greeting,
        total_fen=p.total_fen,
        count=p.count,
        remaining_count=p.remaining_count,
        remaining_fen=p.remaining_fen,
        refunded_fen=p.refunded_fen,
        status=_public_status(p, rt),
        created_at=p.created_at,
        expires_at=p.expires_at,
        claims=[
            ClaimPublic(
                user_id=c.user_id,
                user=cards.get(c.user_id),
                amount_fen=c.amount_fen,
                at=c.at,
                luckiest=c.user_id == luckiest,
            )
            for c in claims
        ],
    )


async def refund_one(
    db: AsyncSession, rt: Runtime, *, packet_id: str, closing: str | None = None
) -> int | None:
    """Close one expired open packet and refund what is left to its sender, in the caller's
    transaction. With ``closing`` (a member erasing their account, who sent the packet or is
    the one an exclusive packet is for) the open packet closes now, expired or not, and an
    erased sender is not notified. Returns the refunded fen, or None when it was not open
    (and expired) (someone else closed it). Locks the packet row (conditional UPDATE)."""
    now = rt.clock.now()
    which = (
        RedPacket.expires_at <= now
        if closing is None
        else or_(RedPacket.sender_id == closing, RedPacket.to_user_id == closing)
    )
    row = (
        await db.execute(
            update(RedPacket)
            .where(RedPacket.id == packet_id, RedPacket.status == "open", which)
            .values(
                status="refunded",
                refunded_fen=RedPacket.remaining_fen,
                remaining_fen=0,
                remaining_count=0,
                closed_at=now,
            )
            .returning(RedPacket.refunded_fen, RedPacket.sender_id, RedPacket.conversation_id)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if row is None:
        return None
    refunded = int(row.refunded_fen)
    await ledger.post(
        db,
        kind="red_packet_refund",
        entries=ledger.move(escrow_of(packet_id), ledger.wallet_account(row.sender_id), refunded),
        now=now,
        ref_id=packet_id,
        memo="red packet expired: refunded" if closing is None else "account closed: red packet refunded",
    )
    if row.sender_id != closing:
        data = {"packet_id": packet_id, "refunded_fen": refunded, "conversation_id": row.conversation_id}
        if closing is not None:
            data["reason"] = "account_closed"
        await notify(db, rt, user_id=row.sender_id, kind="red_packet_refunded", data=data)
    await chat.post_message_last(
        db,
        rt,
        conversation_id=row.conversation_id,
        sender_id=None,
        kind="system",
        body={
            "event": "red_packet_refunded",
            "packet_id": packet_id,
            "sender_id": row.sender_id,
            "refunded_fen": refunded,
        },
    )
    return refunded


async def refund_for_erasure(db: AsyncSession, rt: Runtime, user_id: str) -> None:
    """``DELETE /v1/me``: close every open packet the erased member sent (the rest goes back
    to their wallet, which the erasure then pays back to the bank) or that is exclusively
    for them (back to its sender), through ``refund_one``, in the erasure's transaction."""
    open_ids = (
        await db.execute(
            select(RedPacket.id)
            .where(
                RedPacket.status == "open",
                or_(RedPacket.sender_id == user_id, RedPacket.to_user_id == user_id),
            )
            .order_by(RedPacket.id)
        )
    ).scalars()
    for packet_id in list(open_ids):
        await refund_one(db, rt, packet_id=packet_id, closing=user_id)


async def personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> dict[str, Any]:
    """The red packets a member sent and the shares they grabbed (their export's
    ``red_packets`` section)."""
    sent = (
        await db.execute(
            select(RedPacket)
            .where(RedPacket.sender_id == user_id)
            .order_by(RedPacket.created_at, RedPacket.id)
        )
    ).scalars()
    grabbed = (
        await db.execute(
            select(RedPacketClaim).where(RedPacketClaim.user_id == user_id).order_by(RedPacketClaim.at)
        )
    ).scalars()
    return {
        "sent": [
            {
                "id": p.id,
                "conversation_id": p.conversation_id,
                "mode": p.mode,
                "greeting": p.greeting,
                "total_fen": p.total_fen,
                "count": p.count,
                "refunded_fen": p.refunded_fen,
                "status": p.status,
                "created_at": p.created_at.isoformat(),
            }
            for p in sent
        ],
        "grabbed": [
            {"packet_id": c.packet_id, "amount_fen": c.amount_fen, "at": c.at.isoformat()} for c in grabbed
        ],
    }


async def refund_expired(rt: Runtime, *, max_rounds: int = 50) -> int:
    """The sweep: refund every open packet past its expiry; returns how many this call
    refunded (``app.expiry.sweep``: catches up after downtime, safe on several workers)."""

    async def handle(db: AsyncSession, packet_id: str) -> bool:
        return await refund_one(db, rt, packet_id=packet_id) is not None

    pending = select(RedPacket.id).where(RedPacket.status == "open")
    return await expiry.sweep(
        rt, pending=pending, expires_at=RedPacket.expires_at, handle=handle, max_rounds=max_rounds
    )
