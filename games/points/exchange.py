"""Exchanges with partner programmes (hotel groups, airlines) at the rules' rates.

``create`` (inside the request's idempotency transaction) checks the programme, my
membership number there, the minimum and the unit, and the per-member daily and monthly
caps (both directions together, refused exchanges not counted) under the member's points
lock; an outbound exchange then **holds** the points: they leave my lots (earliest-expiring
first) into the exchange's own hold account ``escrow:points_exchange:<id>`` (PTS).

``deliver`` calls the partner (``partners.exchange``, with a timeout) with the exchange's
id as the idempotency key, outside any transaction, and ``settle`` applies the answer
once: the status changes from ``pending`` by a conditional update, so a second answer
(a duplicate, a retry whose first try did land, two workers) changes nothing.

- confirmed: out — the hold goes to ``system:points_partners``; in — a lot is credited
  from ``system:points_partners`` (it does not count for tiers);
- refused: out — the held points go back to the very lots they came from; in — nothing;
- unknown (timeout, 5xx, …): stays pending, sent again with the same key after 1, 2, 4 …
  minutes (at most ``points_exchange_retry_max_s``) by the ``points_exchange_retry`` job.

So points are never lost (held until a definitive answer) and never doubled (one
settlement per exchange, one booking per key at the partner).

``cancel_by_partner`` is the partner's way back (``POST /v1/partners/{programme}/
exchanges/{id}/cancel``, service token): an exchange they reversed on their side later
returns the member's points once, through ``post_points`` like every other move.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import service as auth
from app.db import transaction
from app.errors import Conflict, LimitExceeded, NotFound, ValidationFailed
from app.ids import new_id
from app.ledger import service as ledger
from app.notifications.service import notify
from app.pagination import ID_CURSOR, Page, decode_cursor, encode_cursor
from app.runtime import Runtime
from games.points import partners
from games.points import service as points
from games.points.models import (
    ExchangeDirection,
    ExchangeStatus,
    LotSource,
    PartnerMember,
    PointsExchange,
    PointsLot,
)
from games.points.schemas import ExchangePublic, PartnerCancelPublic, ProgrammePublic, RatePublic
from games.rules import PartnerProgramme, rules

HOLD_KIND = "points_exchange"


def hold_account(exchange_id: str) -> str:
    return ledger.escrow_account(HOLD_KIND, exchange_id)


def to_public(x: PointsExchange) -> ExchangePublic:
    return ExchangePublic(
        id=x.id,
        programme_id=x.programme_id,
        direction=x.direction,
        points=x.points,
        partner_amount=x.partner_amount,
        status=x.status,
        attempts=x.attempts,
        partner_ref=x.partner_ref,
        reason=x.reason,
        created_at=x.created_at,
        settled_at=x.settled_at,
        cancelled_at=x.cancelled_at,
    )


def _programme(programme_id: str) -> PartnerProgramme:
    p = rules().points.partner(programme_id)
    if p is None:
        raise NotFound("no such partner programme", programme_id=programme_id)
    return p


async def memberships(db: AsyncSession, *, user_id: str) -> dict[str, str]:
    """My member numbers, by programme."""
    rows = await db.execute(
        select(PartnerMember.programme_id, PartnerMember.member_no).where(PartnerMember.user_id == user_id)
    )
    return {p: m for p, m in rows.all()}


async def programmes(db: AsyncSession, rt: Runtime, *, user_id: str) -> list[ProgrammePublic]:
    mine = await memberships(db, user_id=user_id)
    return [
        ProgrammePublic(
            id=p.id,
            name=p.name,
            unit=p.unit,
            out_rate=RatePublic(points=p.out_rate.points, partner=p.out_rate.partner),
            in_rate=RatePublic(points=p.in_rate.points, partner=p.in_rate.partner),
            min_points=p.min_points,
            daily_cap_points=p.daily_cap_points,
            monthly_cap_points=p.monthly_cap_points,
            connected=partners.base_url(rt, p.id) is not None,
            member_no=mine.get(p.id),
        )
        for p in rules().points.partners
    ]


async def link(
    db: AsyncSession, rt: Runtime, *, user_id: str, programme_id: str, member_no: str
) -> ProgrammePublic:
    """Record (or change) my member number in a programme. Raises NotFound."""
    _programme(programme_id)
    async with transaction(db):
        stmt = insert(PartnerMember).values(
            user_id=user_id, programme_id=programme_id, member_no=member_no, linked_at=rt.clock.now()
        )
        await db.execute(
            stmt.on_conflict_do_update(
                index_elements=["user_id", "programme_id"],
                set_={"member_no": stmt.excluded.member_no, "linked_at": stmt.excluded.linked_at},
            )
        )
    return next(p for p in await programmes(db, rt, user_id=user_id) if p.id == programme_id)


def partner_amount(p: PartnerProgramme, direction: str, pts: int) -> int:
    """The partner's points for ``pts`` of ours. Raises ValidationFailed (below the
    minimum, not a whole number of units)."""
    rate = p.out_rate if direction == ExchangeDirection.OUT else p.in_rate
    if pts < p.min_points:
        raise ValidationFailed("below the programme's minimum", field="points", min_points=p.min_points)
    if pts % rate.points:
        raise ValidationFailed(
            "points must be a whole number of exchange units", field="points", unit_points=rate.points
        )
    return pts // rate.points * rate.partner


# Exchanges that came to nothing do not count against the caps.
_UNDONE = (ExchangeStatus.REFUSED.value, ExchangeStatus.CANCELLED.value)


async def _used(db: AsyncSession, *, user_id: str, since: datetime) -> int:
    return int(
        await db.scalar(
            select(func.coalesce(func.sum(PointsExchange.points), 0)).where(
                PointsExchange.user_id == user_id,
                PointsExchange.created_at >= since,
                col(PointsExchange.status).not_in(_UNDONE),
            )
        )
        or 0
    )


async def create(
    db: AsyncSession, rt: Runtime, *, user_id: str, programme_id: str, direction: str, pts: int
) -> ExchangePublic:
    """Start an exchange; an outbound one holds my points. In the caller's transaction
    (``idempotency.run``); locks my points account. Raises NotFound (programme),
    Conflict (no member number; not connected), ValidationFailed, LimitExceeded,
    InsufficientFunds."""
    p = _programme(programme_id)
    amount = partner_amount(p, direction, pts)
    member_no = (await memberships(db, user_id=user_id)).get(programme_id)
    if member_no is None:
        raise Conflict("link your membership number first", reason="not_linked", programme_id=programme_id)
    if partners.base_url(rt, programme_id) is None:
        raise Conflict(
            "this programme cannot be reached now", reason="not_connected", programme_id=programme_id
        )
    now = rt.clock.now()
    await points.lock_member(db, rt, user_id=user_id)  # caps and the hold decided under one lock
    local = rt.clock.local(now)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    month_start = day_start.replace(day=1)
    if await _used(db, user_id=user_id, since=day_start) + pts > p.daily_cap_points:
        raise LimitExceeded(
            "daily exchange cap reached", limit="exchange_daily", cap_points=p.daily_cap_points
        )
    if await _used(db, user_id=user_id, since=month_start) + pts > p.monthly_cap_points:
        raise LimitExceeded(
            "monthly exchange cap reached", limit="exchange_monthly", cap_points=p.monthly_cap_points
        )
    x = PointsExchange(
        id=new_id("px_"),
        user_id=user_id,
        programme_id=programme_id,
        member_no=member_no,
        direction=direction,
        points=pts,
        partner_amount=amount,
        status=ExchangeStatus.PENDING.value,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    db.add(x)
    await db.flush()
    if direction == ExchangeDirection.OUT:
        hold = hold_account(x.id)
        await points.open_points_account(db, rt, account_id=hold, owner_id=None)
        await points.post_points(
            db,
            rt,
            user_id=user_id,
            kind="points_held",
            ref=f"exchange:{x.id}",
            counter=hold,
            amount=-pts,
            memo=f"held for {p.name}",
        )
    return to_public(x)


async def held_points(db: AsyncSession, *, user_id: str) -> int:
    """Points held for my pending outbound exchanges."""
    return int(
        await db.scalar(
            select(func.coalesce(func.sum(PointsExchange.points), 0)).where(
                PointsExchange.user_id == user_id,
                PointsExchange.status == ExchangeStatus.PENDING.value,
                PointsExchange.direction == ExchangeDirection.OUT.value,
            )
        )
        or 0
    )


async def access(db: AsyncSession, *, user_id: str, exchange_id: str) -> ExchangePublic:
    """One of my exchanges. Raises NotFound (also someone else's)."""
    x = await db.get(PointsExchange, exchange_id)
    if x is None or x.user_id != user_id:
        raise NotFound("no such exchange", exchange_id=exchange_id)
    return to_public(x)


async def list_mine(
    db: AsyncSession, *, user_id: str, limit: int, cursor: str | None
) -> Page[ExchangePublic]:
    before = decode_cursor(cursor, ID_CURSOR)
    q = select(PointsExchange).where(PointsExchange.user_id == user_id)
    if before is not None:
        q = q.where(PointsExchange.id < str(before))
    rows = (await db.execute(q.order_by(col(PointsExchange.id).desc()).limit(limit + 1))).scalars().all()
    nxt = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return Page[ExchangePublic](items=[to_public(x) for x in rows[:limit]], next_cursor=nxt)


async def _release_hold(db: AsyncSession, rt: Runtime, x: PointsExchange, *, memo: str) -> None:
    """An outbound exchange's held points back to the member, into the lots they came from."""
    ref = f"exchange:{x.id}"
    await points.post_points(
        db,
        rt,
        user_id=x.user_id,
        kind="points_released",
        ref=ref,
        counter=hold_account(x.id),
        amount=x.points,
        restore=ref,
        memo=memo,
    )


async def _credit_from_partner(
    db: AsyncSession, rt: Runtime, x: PointsExchange, *, kind: str, ref: str, memo: str
) -> None:
    """Points from the partners' account to the member, in a new lot of partner points
    (not counted for the tier): an inbound exchange confirmed, an outbound one returned."""
    await points.post_points(
        db,
        rt,
        user_id=x.user_id,
        kind=kind,
        ref=ref,
        counter=ledger.POINTS_PARTNERS,
        amount=x.points,
        lot=points.new_lot(
            rules().points, rt, source=LotSource.PARTNER, earned_at=rt.clock.now(), counts_for_tier=False
        ),
        memo=memo,
    )


async def settle(rt: Runtime, *, exchange_id: str, answer: partners.Answer) -> bool:
    """Apply a definitive answer once (False when the exchange was settled already).
    Locks the member's points account (through ``post_points``)."""
    if answer.outcome == "unknown":
        raise ValueError("only a definitive answer settles an exchange")
    now = rt.clock.now()
    status = ExchangeStatus.CONFIRMED if answer.outcome == "confirmed" else ExchangeStatus.REFUSED
    async with rt.sessionmaker() as db, transaction(db):
        x = (
            await db.execute(
                update(PointsExchange)
                .where(
                    PointsExchange.id == exchange_id, PointsExchange.status == ExchangeStatus.PENDING.value
                )
                .values(
                    status=status.value,
                    settled_at=now,
                    partner_ref=answer.partner_ref,
                    reason=answer.reason,
                    attempts=PointsExchange.attempts + 1,
                )
                .returning(PointsExchange)
            )
        ).scalar_one_or_none()
        if x is None:
            return False
        p = _programme(x.programme_id)
        ref = f"exchange:{x.id}"
        if x.direction == ExchangeDirection.OUT:
            if status == ExchangeStatus.CONFIRMED:
                await points.post_points(
                    db,
                    rt,
                    user_id=x.user_id,
                    kind="points_exchanged",
                    ref=ref,
                    counter=hold_account(x.id),
                    amount=x.points,
                    forward_to=ledger.POINTS_PARTNERS,
                    memo=f"to {p.name}",
                )
            else:
                await _release_hold(db, rt, x, memo=f"{p.name} refused the exchange")
        elif status == ExchangeStatus.CONFIRMED:
            await _credit_from_partner(db, rt, x, kind="points_exchanged", ref=ref, memo=f"from {p.name}")
        if await _forfeited_if_erased(db, rt, x.user_id):
            return True
        await _notify_status(db, rt, x)
    return True


def _returned_ref(exchange_id: str) -> str:
    return f"exchange_cancel:{exchange_id}"


async def cancel_by_partner(
    rt: Runtime, *, programme_id: str, exchange_id: str, cancel_ref: str, reason: str | None
) -> PartnerCancelPublic:
    """The partner reversed an exchange on their side (e.g. a wrong member record), once:

    - a confirmed outbound one: its points come back to the member as a new lot from
      ``system:points_partners``, with the expiry of points credited today (not counting
      for tiers);
    - a pending outbound one: the held points go back to the very lots they came from,
      and it is no longer sent; a pending inbound one: nothing was credited, it just ends.

    The same ``cancel_ref`` again answers the first answer. Locks the exchange row, then
    the member's points account (through ``post_points``) — the order ``settle`` takes
    them in, so a late confirmation and a cancellation cannot both apply. Raises NotFound
    (no such exchange of that programme), Conflict (refused; cancelled under another
    reference; a confirmed inbound exchange, whose points the member may have spent)."""
    now = rt.clock.now()
    async with rt.sessionmaker() as db, transaction(db):
        x = await db.get(PointsExchange, exchange_id, with_for_update=True, populate_existing=True)
        if x is None or x.programme_id != programme_id:
            raise NotFound("no such exchange with this programme", exchange_id=exchange_id)
        if x.status == ExchangeStatus.CANCELLED:
            if x.cancel_ref != cancel_ref:
                raise Conflict(
                    "this exchange was cancelled under another reference",
                    reason="already_cancelled",
                    exchange_id=x.id,
                )
            return await _cancel_public(db, x)
        if x.status == ExchangeStatus.REFUSED:
            raise Conflict("this exchange was refused: nothing to cancel", reason="refused", exchange_id=x.id)
        if x.direction == ExchangeDirection.IN and x.status == ExchangeStatus.CONFIRMED:
            raise Conflict(
                "a confirmed inbound exchange is reversed by the bank's operators",
                reason="inbound_confirmed",
                exchange_id=x.id,
            )
        p = _programme(x.programme_id)
        memo = f"{p.name} cancelled the exchange"
        if x.direction == ExchangeDirection.OUT and x.status == ExchangeStatus.CONFIRMED:
            await _credit_from_partner(db, rt, x, kind="points_returned", ref=_returned_ref(x.id), memo=memo)
        elif x.direction == ExchangeDirection.OUT:
            await _release_hold(db, rt, x, memo=memo)
        x.cancelled_from = x.status
        x.status = ExchangeStatus.CANCELLED.value
        x.cancel_ref = cancel_ref
        x.cancelled_at = now
        x.settled_at = x.settled_at or now
        x.reason = (reason or "cancelled by the partner")[:120]
        await db.flush()
        if await _forfeited_if_erased(db, rt, x.user_id):
            return await _cancel_public(db, x)
        await _notify_status(db, rt, x)
        return await _cancel_public(db, x)


async def _forfeited_if_erased(db: AsyncSession, rt: Runtime, user_id: str) -> bool:
    """When the member erased their account while the partner decided, what an answer or a
    cancellation brought back (a released hold, a returned or inbound lot) is forfeited as
    at erasure (``points.erase_personal_data``), and nobody is told. True then."""
    if await auth.live_ids(db, [user_id]):
        return False
    await points.erase_personal_data(db, rt, user_id)
    return True


async def _cancel_public(db: AsyncSession, x: PointsExchange) -> PartnerCancelPublic:
    out = x.direction == ExchangeDirection.OUT
    was_confirmed = x.cancelled_from == ExchangeStatus.CONFIRMED
    expires_at = (
        await db.scalar(
            select(PointsLot.expires_at).where(
                PointsLot.user_id == x.user_id, PointsLot.ref == _returned_ref(x.id)
            )
        )
        if out and was_confirmed
        else None
    )
    assert x.cancel_ref is not None and x.cancelled_at is not None and x.cancelled_from is not None
    return PartnerCancelPublic(
        exchange_id=x.id,
        programme_id=x.programme_id,
        direction=x.direction,
        status="cancelled",
        cancelled_from=x.cancelled_from,
        points=x.points,
        points_returned=x.points if out and was_confirmed else 0,
        points_released=x.points if out and not was_confirmed else 0,
        lot_expires_at=expires_at,
        partner_ref=x.cancel_ref,
        cancelled_at=x.cancelled_at,
    )


def retry_delay(rt: Runtime, attempts: int) -> timedelta:
    """1, 2, 4 … minutes after the n-th unanswered attempt, at most the setting."""
    return timedelta(seconds=min(60 * 2 ** max(attempts - 1, 0), rt.settings.points_exchange_retry_max_s))


async def deliver(rt: Runtime, *, exchange_id: str) -> str:
    """Send one pending exchange to its partner and apply the answer; returns the status
    after. Calls the partner outside any transaction."""
    async with rt.sessionmaker() as db:
        x = await db.get(PointsExchange, exchange_id)
    if x is None or x.status != ExchangeStatus.PENDING.value:
        return x.status if x is not None else "missing"
    answer = await partners.exchange(
        rt,
        programme_id=x.programme_id,
        key=x.id,
        member_no=x.member_no,
        direction=x.direction,
        amount=x.partner_amount,
    )
    if answer.outcome != "unknown":
        await settle(rt, exchange_id=x.id, answer=answer)
        return answer.outcome
    now = rt.clock.now()
    async with rt.sessionmaker() as db, transaction(db):
        await db.execute(
            update(PointsExchange)
            .where(PointsExchange.id == x.id, PointsExchange.status == ExchangeStatus.PENDING.value)
            .values(
                attempts=PointsExchange.attempts + 1,
                next_attempt_at=now + retry_delay(rt, x.attempts + 1),
                reason=answer.reason,
            )
        )
    return ExchangeStatus.PENDING.value


async def deliver_due(rt: Runtime, *, batch: int = 200) -> int:
    """Job ``points_exchange_retry``: send the pending exchanges that are due again (same
    key). Returns how many were sent."""
    now = rt.clock.now()
    async with rt.sessionmaker() as db:
        due = list(
            (
                await db.execute(
                    select(PointsExchange.id)
                    .where(
                        PointsExchange.status == ExchangeStatus.PENDING.value,
                        PointsExchange.next_attempt_at <= now,
                    )
                    .order_by(PointsExchange.next_attempt_at)
                    .limit(batch)
                )
            ).scalars()
        )
    for exchange_id in due:
        await deliver(rt, exchange_id=exchange_id)
    return len(due)


async def _notify_status(db: AsyncSession, rt: Runtime, x: PointsExchange) -> None:
    """The member's ``points_exchange`` notification of where an exchange now stands."""
    await notify(
        db,
        rt,
        user_id=x.user_id,
        kind="points_exchange",
        data={
            "exchange_id": x.id,
            "programme_id": x.programme_id,
            "direction": x.direction,
            "points": x.points,
            "partner_amount": x.partner_amount,
            "status": x.status,
        },
    )
