"""Points (积分): one currency (PTS) in the ledger, earned in lots that lapse.

``post_points`` is the one function that moves a member's points (``lapse_members`` is
its form for many members at once, for the expiry sweep); earning (card
spending, milestones), spending, holding and releasing for partner exchanges, and
expiry all call it. It

1. locks the member's points account row (``SELECT … FOR UPDATE``) first, so a member's
   points move one request at a time, in one order (account, lots, ledger) — no deadlock
   and no lot spent twice;
2. changes the lots: a credit adds a lot (once per (member, ref): the unique key makes
   earning exactly-once) or restores the draws held for a ref; a debit first lapses what
   expired (so no lapsed point is ever spent), then draws the earliest-expiring live lots;
3. posts the ledger transaction (PTS) between the member's account and the counter
   account (issued, redeemed, expired, partners, an exchange's hold), which checks the
   balance stays ≥ 0.

So Σ ``remaining`` of a member's lots always equals the ledger balance of
``points:<user>``.

Earning listens to ``app.hooks``: ``on_spending_recorded`` (1 point per 10 yuan,
rounded down, × category × tier multipliers) and ``on_milestone`` (trees planted, quiz
streaks, referrals). ``expire_due`` (job ``points_expiry``) lapses every lot past its
expiry into ``system:points_expired`` — set-based, thousands of members per statement
through ``lapse_members``, the same lapse rule (``_lapse``) as a debit's — and sends
"n points expire on …" 30 days ahead.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db import execute, transaction
from app.errors import InsufficientFunds, ValidationFailed
from app.hooks import Milestone, Spending, SpendingEffects, SpendingRefund
from app.ids import new_id
from app.ledger import service as ledger
from app.notifications.service import notify
from app.pagination import INT_CURSOR, Page, decode_cursor, encode_cursor
from app.runtime import Runtime
from games.points.models import (
    ExpiryNotice,
    LotSource,
    PartnerMember,
    PointsDraw,
    PointsLot,
    SpendingPoints,
    SpendingRefundPoints,
)
from games.points.schemas import ExpiringPublic, LotPublic, PointsLine, PointsPublic
from games.rules import PointsRules, rules
from games.rules import points as points_rules

PTS = ledger.Currency.PTS


@dataclass(frozen=True)
class NewLot:
    source: LotSource
    counts_for_tier: bool
    earned_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Moved:
    transaction_id: str
    amount: int  # signed, as posted to the member's account
    balance: int  # the member's points after


async def open_points_account(
    db: AsyncSession, rt: Runtime, *, account_id: str, owner_id: str | None
) -> None:
    """Open a PTS account (a member's, or an exchange's hold) if it does not exist."""
    kind = "points" if account_id.startswith("points:") else "points_hold"
    await ledger.open_account(
        db, account_id=account_id, kind=kind, owner_id=owner_id, now=rt.clock.now(), currency=PTS
    )


async def lock_member(db: AsyncSession, rt: Runtime, *, user_id: str) -> None:
    """Open and lock the member's points account until commit (the lock ``post_points``
    takes first; a use case that must decide something before moving points takes it
    earlier, e.g. an exchange's caps)."""
    account = ledger.points_account(user_id)
    await open_points_account(db, rt, account_id=account, owner_id=user_id)
    await ledger.lock_account(db, account)


async def post_points(
    db: AsyncSession,
    rt: Runtime,
    *,
    user_id: str,
    kind: str,
    ref: str,
    counter: str,
    amount: int = 0,
    lot: NewLot | None = None,
    restore: str | None = None,
    lapse: bool = False,
    forward_to: str | None = None,
    memo: str = "",
) -> Moved | None:
    """Move a member's points; the only code that does (see the module docstring).

    - ``amount > 0`` with ``lot``: credit a new lot from ``counter``; None when this
      (member, ``ref``) lot exists already (earned once);
    - ``amount > 0`` with ``restore``: give back the draws made for ``restore`` to their
      lots (a released hold), from ``counter``; None when nothing is left to restore;
    - ``amount < 0``: debit to ``counter``, drawing the earliest-expiring live lots first;
    - ``lapse``: debit every lot past its expiry to ``counter``; None when none;
    - ``forward_to``: pass ``amount`` held on ``counter`` (an exchange's hold, drawn from
      the member's lots before) on to ``forward_to``: the hold is settled.

    In the caller's transaction; locks the member's points account row until commit.
    Raises InsufficientFunds, ValidationFailed."""
    now = rt.clock.now()
    account = ledger.points_account(user_id)
    if amount > 0 or lot is not None:
        await open_points_account(db, rt, account_id=account, owner_id=user_id)
    held = await ledger.lock_account(db, account)
    if held is None:
        if amount < 0:
            raise InsufficientFunds("no points", needed_points=-amount)
        return None
    if lapse:
        return await _lapse_one(db, user_id=user_id, kind=kind, counter=counter, now=now)
    if amount <= 0 and (lot is not None or restore is not None or forward_to is not None):
        raise ValidationFailed("points to credit, restore or forward must be positive")
    if amount == 0:
        raise ValidationFailed("points to move must not be zero")
    if forward_to is not None:
        moved = await _post(
            db, kind=kind, frm=counter, to=forward_to, amount=amount, ref=ref, memo=memo, now=now
        )
        return Moved(moved.transaction_id, 0, held)
    if amount > 0 and lot is not None:
        lot_id = new_id("pl_")
        inserted = await db.scalar(
            insert(PointsLot)
            .values(
                id=lot_id,
                user_id=user_id,
                source=lot.source.value,
                ref=ref,
                memo=memo[:120],
                amount=amount,
                remaining=amount,
                counts_for_tier=lot.counts_for_tier,
                earned_at=lot.earned_at,
                expires_at=lot.expires_at,
                transaction_id="",
            )
            .on_conflict_do_nothing(index_elements=["user_id", "ref"])
            .returning(PointsLot.id)
        )
        if inserted is None:
            return None
        moved = await _post(
            db, kind=kind, frm=counter, to=account, amount=amount, ref=ref, memo=memo, now=now
        )
        await db.execute(
            update(PointsLot).where(PointsLot.id == lot_id).values(transaction_id=moved.transaction_id)
        )
        return Moved(moved.transaction_id, amount, moved.balances[account])
    if amount > 0 and restore is not None:
        draws = (
            await db.execute(
                select(PointsDraw.id, PointsDraw.lot_id, PointsDraw.amount)
                .where(
                    PointsDraw.user_id == user_id,
                    PointsDraw.ref == restore,
                    col(PointsDraw.restored).is_(False),
                )
                .with_for_update()
            )
        ).all()
        if not draws:
            return None
        if sum(d.amount for d in draws) != amount:
            raise ValidationFailed("a restore gives back exactly what was drawn", ref=restore)
        by_lot: dict[str, int] = defaultdict(int)
        for d in draws:
            by_lot[d.lot_id] += d.amount
        for lot_id, n in by_lot.items():
            await db.execute(
                update(PointsLot).where(PointsLot.id == lot_id).values(remaining=PointsLot.remaining + n)
            )
        await db.execute(
            update(PointsDraw).where(PointsDraw.id.in_([d.id for d in draws])).values(restored=True)  # type: ignore[union-attr]
        )
        moved = await _post(
            db, kind=kind, frm=counter, to=account, amount=amount, ref=ref, memo=memo, now=now
        )
        return Moved(moved.transaction_id, amount, moved.balances[account])
    if amount > 0:
        raise ValidationFailed("a credit makes a lot or restores a hold")
    # A debit: lapse what expired first, so only live points are spent.
    await _lapse_one(db, user_id=user_id, kind="points_expired", counter=ledger.POINTS_EXPIRED, now=now)
    need = -amount
    lots = (
        await db.execute(
            select(PointsLot.id, PointsLot.remaining)
            .where(PointsLot.user_id == user_id, PointsLot.remaining > 0, PointsLot.expires_at > now)
            .order_by(PointsLot.expires_at, PointsLot.earned_at, PointsLot.id)
        )
    ).all()
    takes: list[tuple[str, int]] = []
    for lot_id, remaining in lots:
        if need == 0:
            break
        take = min(need, int(remaining))
        takes.append((lot_id, take))
        need -= take
    if need:
        raise InsufficientFunds("not enough points", needed_points=-amount, available_points=-amount - need)
    await _draw(db, user_id=user_id, ref=ref, takes=takes, now=now)
    moved = await _post(db, kind=kind, frm=account, to=counter, amount=-amount, ref=ref, memo=memo, now=now)
    return Moved(moved.transaction_id, amount, moved.balances[account])


# Take from several lots in one statement, each only if it still holds what is taken.
_TAKE_FROM_LOTS = text(
    """
UPDATE points_lots l SET remaining = l.remaining - t.take
FROM unnest(CAST(:ids AS varchar[]), CAST(:takes AS bigint[])) AS t(id, take)
WHERE l.id = t.id AND l.remaining >= t.take
"""
)


async def _draw(
    db: AsyncSession,
    *,
    user_id: str,
    ref: str,
    takes: list[tuple[str, int]],
    now: datetime,
) -> None:
    if not takes:
        return
    params = {"ids": [i for i, _ in takes], "takes": [n for _, n in takes]}
    result = await execute(db, _TAKE_FROM_LOTS, params)
    if getattr(result, "rowcount", 0) != len(takes):  # cannot happen under the account lock
        raise InsufficientFunds("a points lot changed underneath", ref=ref)
    rows = [{"lot_id": i, "user_id": user_id, "ref": ref, "amount": n, "created_at": now} for i, n in takes]
    for start in range(0, len(rows), 5000):  # within PostgreSQL's bind parameter limit
        await db.execute(insert(PointsDraw).values(rows[start : start + 5000]))


# The lapse rule, for one member or thousands: every live lot of ``users`` past its expiry
# is emptied in one statement, which answers what each member lost.
_LAPSE_LOTS = text(
    """
WITH due AS (
    SELECT id, user_id, remaining FROM points_lots
    WHERE user_id = ANY (CAST(:users AS varchar[])) AND remaining > 0 AND expires_at <= :now
), gone AS (
    UPDATE points_lots l SET remaining = 0 FROM due
    WHERE l.id = due.id AND l.remaining = due.remaining
    RETURNING due.user_id, due.remaining
)
SELECT user_id, CAST(sum(remaining) AS bigint) AS points FROM gone GROUP BY user_id
"""
)


async def _lapse(
    db: AsyncSession, *, user_ids: list[str], kind: str, counter: str, now: datetime
) -> tuple[ledger.Posted, dict[str, int]] | None:
    """Lapse the expired lots of members whose points accounts the caller has locked, and
    post it as one balanced ledger transaction (each member's account → ``counter``).
    No draw rows: a lapsed lot is never restored; the ledger transaction records it."""
    result = await execute(db, _LAPSE_LOTS, {"users": user_ids, "now": now})
    lapsed = {str(row.user_id): int(row.points) for row in result if row.points}
    if not lapsed:
        return None
    entries = [ledger.Entry(ledger.points_account(u), -n) for u, n in sorted(lapsed.items())]
    entries.append(ledger.Entry(counter, sum(lapsed.values())))
    posted = await ledger.post(
        db, kind=kind, entries=entries, now=now, ref_id="expiry", memo="points expired", currency=PTS
    )
    return posted, lapsed


async def _lapse_one(
    db: AsyncSession, *, user_id: str, kind: str, counter: str, now: datetime
) -> Moved | None:
    done = await _lapse(db, user_ids=[user_id], kind=kind, counter=counter, now=now)
    if done is None:
        return None
    posted, lapsed = done
    account = ledger.points_account(user_id)
    return Moved(posted.transaction_id, -lapsed[user_id], posted.balances[account])


async def lapse_members(db: AsyncSession, rt: Runtime, *, user_ids: list[str]) -> dict[str, int]:
    """The set-based form of ``post_points(lapse=True)`` for the expiry sweep: lapse every
    expired lot of these members into ``system:points_expired`` in one statement and one
    balanced ledger transaction. In the caller's transaction; locks the members' points
    accounts that no one else holds (``FOR UPDATE SKIP LOCKED``, in id order) until commit
    and leaves the others (a spend lapses first anyway; another sweeper is on them).
    Returns the points lapsed per member."""
    locked = await ledger.lock_accounts(db, [ledger.points_account(u) for u in user_ids], skip_locked=True)
    if not locked:
        return {}
    members = [a.removeprefix("points:") for a in locked]
    done = await _lapse(
        db, user_ids=members, kind="points_expired", counter=ledger.POINTS_EXPIRED, now=rt.clock.now()
    )
    return {} if done is None else done[1]


async def _post(
    db: AsyncSession, *, kind: str, frm: str, to: str, amount: int, ref: str, memo: str, now: datetime
) -> ledger.Posted:
    return await ledger.post(
        db,
        kind=kind,
        entries=ledger.move(frm, to, amount),
        now=now,
        ref_id=ref[:64],
        memo=memo[:200],
        currency=PTS,
    )


def new_lot(
    r: PointsRules, rt: Runtime, *, source: LotSource, earned_at: datetime, counts_for_tier: bool = True
) -> NewLot:
    """A lot earned at ``earned_at`` with the rules' expiry."""
    return NewLot(
        source=source,
        counts_for_tier=counts_for_tier,
        earned_at=earned_at,
        expires_at=points_rules.lot_expiry(r, earned_at, rt.clock.tz),
    )


# -- earning -------------------------------------------------------------------------------


def tier_points() -> ColumnElement[int]:
    """What a lot counts for tiers, on the day it was earned: its amount less what refunds
    took back of it (a refunded payment is as if never earned; spending points is not a
    reversal and lowers nothing). Only lots with ``counts_for_tier``."""
    return PointsLot.amount - PointsLot.reversed_points  # type: ignore[return-value]


async def earned_by_day(
    db: AsyncSession, rt: Runtime, *, user_ids: list[str], since: datetime
) -> dict[str, dict[date, int]]:
    """Points each member earned (lots that count for tiers, net of refunds) per business
    day since ``since``."""
    day = func.date(func.timezone(rt.settings.timezone, PointsLot.earned_at))
    rows = (
        await db.execute(
            select(PointsLot.user_id, day, func.sum(tier_points()))
            .where(PointsLot.user_id.in_(user_ids), PointsLot.counts_for_tier, PointsLot.earned_at >= since)  # type: ignore[attr-defined]
            .group_by(PointsLot.user_id, day)
        )
    ).all()
    out: dict[str, dict[date, int]] = defaultdict(dict)
    for u, d, n in rows:
        out[u][d] = int(n)
    return out


def history_start(r: PointsRules, rt: Runtime) -> datetime:
    """How far back a tier looks: the window plus the grace, with a day's margin."""
    return rt.clock.now() - timedelta(days=31 * r.tier_window_months + r.tier_grace_days + 2)


async def tier_multipliers(db: AsyncSession, rt: Runtime, user_ids: list[str]) -> dict[str, float]:
    r = rules().points
    history = await earned_by_day(db, rt, user_ids=user_ids, since=history_start(r, rt))
    today = rt.clock.today()
    return {u: points_rules.standing(r, history.get(u, {}), today).tier.earn_multiplier for u in user_ids}


async def points_for_spending(db: AsyncSession, rt: Runtime, events: list[Spending]) -> SpendingEffects:
    """``on_spending_recorded`` hook: card spending earns points at once, one lot per member
    and expiry year in the batch (the events are new: ``app/events`` stores each once)."""
    r = rules().points
    now = rt.clock.now()
    mult = await tier_multipliers(db, rt, sorted({e.user_id for e in events}))
    groups: dict[tuple[str, datetime], list[tuple[Spending, int]]] = defaultdict(list)
    per_event = []
    for e in events:
        n = points_rules.spending_points(r, e.category, e.amount_fen, mult.get(e.user_id, 1.0))
        if n > 0:
            earned_at = min(e.occurred_at, now)
            groups[(e.user_id, points_rules.lot_expiry(r, earned_at, rt.clock.tz))].append((e, n))
            per_event.append(
                {"event_id": e.event_id, "user_id": e.user_id, "points": n, "amount_fen": e.amount_fen}
            )
    for start in range(0, len(per_event), 5000):  # what each event earned, for its refunds
        await db.execute(
            insert(SpendingPoints).values(per_event[start : start + 5000]).on_conflict_do_nothing()
        )
    for (user_id, expires_at), items in sorted(groups.items()):
        first = min(items, key=lambda it: it[0].event_id)[0]
        ref = f"spending:{first.event_id}"
        await post_points(
            db,
            rt,
            user_id=user_id,
            kind="points_earned",
            ref=ref,
            counter=ledger.POINTS_ISSUED,
            amount=sum(n for _, n in items),
            lot=NewLot(LotSource.SPENDING, True, max(min(e.occurred_at, now) for e, _ in items), expires_at),
            memo=f"card spending ({len(items)} payment{'s' if len(items) > 1 else ''})",
        )
        await db.execute(  # the lot a refund of these events lowers the tier total of
            update(SpendingPoints)
            .where(col(SpendingPoints.event_id).in_([e.event_id for e, _ in items]))
            .values(
                lot_id=select(PointsLot.id)
                .where(PointsLot.user_id == user_id, PointsLot.ref == ref)
                .scalar_subquery()
            )
        )
    return SpendingEffects()


async def points_for_refund(db: AsyncSession, rt: Runtime, refund: SpendingRefund) -> None:
    """``on_spending_refunded`` hook: take back the points a spending event earned, pro rata
    to what was refunded of it (rounded down; all of them once it is refunded in full, so
    the parts add up), once per refund. Never below zero: when the member has already
    spent them, what is left is taken and the rest recorded as a shortfall (kept on the
    event and the refund; not carried over to points earned later). Either way the whole
    amount owed comes off the tier total of the lot the event earned into (``tier_points``)."""
    claimed = await db.scalar(
        insert(SpendingRefundPoints)
        .values(
            event_id=refund.event_id,
            refund_id=refund.refund_id,
            user_id=refund.user_id,
            owed=0,
            taken=0,
            shortfall=0,
            created_at=rt.clock.now(),
        )
        .on_conflict_do_nothing()
        .returning(SpendingRefundPoints.refund_id)
    )
    if claimed is None:  # this refund was taken back already
        return
    await lock_member(db, rt, user_id=refund.user_id)
    earned = await db.get(SpendingPoints, refund.event_id, with_for_update=True, populate_existing=True)
    if earned is None or earned.user_id != refund.user_id:  # the event earned no points
        return
    refunded = min(earned.amount_fen, earned.refunded_fen + max(refund.amount_fen, 0))
    owed_total = (
        earned.points if refunded >= earned.amount_fen else earned.points * refunded // earned.amount_fen
    )
    owed = owed_total - earned.reversed_points
    taken = min(owed, await live_balance(db, rt, user_id=refund.user_id)) if owed > 0 else 0
    if taken > 0:
        await post_points(
            db,
            rt,
            user_id=refund.user_id,
            kind="points_reversed",
            ref=f"refund:{refund.refund_id}",
            counter=ledger.POINTS_ISSUED,
            amount=-taken,
            memo="card payment refunded",
        )
    if owed > 0 and earned.lot_id is not None:  # the earning is reversed: the tier total drops
        await db.execute(
            update(PointsLot)
            .where(PointsLot.id == earned.lot_id)
            .values(reversed_points=PointsLot.reversed_points + owed)
        )
    earned.refunded_fen = refunded
    earned.reversed_points = owed_total
    earned.shortfall += owed - taken
    await db.execute(
        update(SpendingRefundPoints)
        .where(
            SpendingRefundPoints.event_id == refund.event_id,
            SpendingRefundPoints.refund_id == refund.refund_id,
        )
        .values(owed=owed, taken=taken, shortfall=owed - taken)
    )
    await db.flush()


async def live_balance(db: AsyncSession, rt: Runtime, *, user_id: str) -> int:
    """The member's spendable points: Σ remaining of the lots that have not lapsed."""
    n = await db.scalar(
        select(func.coalesce(func.sum(PointsLot.remaining), 0)).where(
            PointsLot.user_id == user_id, PointsLot.remaining > 0, PointsLot.expires_at > rt.clock.now()
        )
    )
    return int(n or 0)


async def points_for_milestone(db: AsyncSession, rt: Runtime, m: Milestone) -> None:
    """``on_milestone`` hook: the rules' points for a tree planted, a referral, and every
    ``quiz_streak_days`` right answers in a row; once per (member, kind, ref)."""
    r = rules().points
    if m.kind == "quiz_streak":
        n = r.quiz_streak_points if m.count > 0 and m.count % r.quiz_streak_days == 0 else 0
    else:
        n = r.milestones.get(m.kind, 0)
    if n <= 0:
        return
    now = rt.clock.now()
    await post_points(
        db,
        rt,
        user_id=m.user_id,
        kind="points_earned",
        ref=f"milestone:{m.kind}:{m.ref}",
        counter=ledger.POINTS_ISSUED,
        amount=n,
        lot=new_lot(r, rt, source=LotSource.MILESTONE, earned_at=now),
        memo=m.kind.replace("_", " "),
    )


async def grant(
    db: AsyncSession, rt: Runtime, *, user_id: str, points: int, ref: str, memo: str
) -> Moved | None:
    """Operators and the demo seed: credit points as a lot earned now (once per ref)."""
    async with transaction(db):
        return await post_points(
            db,
            rt,
            user_id=user_id,
            kind="points_adjustment",
            ref=f"adjustment:{ref}",
            counter=ledger.POINTS_ISSUED,
            amount=points,
            lot=new_lot(rules().points, rt, source=LotSource.ADJUSTMENT, earned_at=rt.clock.now()),
            memo=memo,
        )


async def spend(db: AsyncSession, rt: Runtime, *, user_id: str, points: int, ref: str, memo: str) -> Moved:
    """Spend points (rights, rewards) into ``system:points_redeemed``, earliest-expiring
    first, in the caller's transaction. Raises InsufficientFunds, ValidationFailed."""
    if points <= 0:
        raise ValidationFailed("points must be positive", field="points")
    moved = await post_points(
        db,
        rt,
        user_id=user_id,
        kind="points_spent",
        ref=ref,
        counter=ledger.POINTS_REDEEMED,
        amount=-points,
        memo=memo,
    )
    assert moved is not None
    return moved


# -- expiry --------------------------------------------------------------------------------


# Members with lapsed points, found among the first ``:lots`` lapsed lots (the partial
# index on live lots' expiry): each round costs its batch, not the whole backlog.
_DUE_MEMBERS = text(
    """
SELECT DISTINCT user_id FROM (
    SELECT user_id FROM points_lots WHERE remaining > 0 AND expires_at <= :now LIMIT :lots
) due
LIMIT :members
"""
)


async def expire_due(rt: Runtime, *, members: int = 2_000, lots: int = 200_000) -> int:
    """Job ``points_expiry``: lapse every lot past its expiry, set-based — up to ``members``
    members (found among ``lots`` lapsed lots) per statement and transaction
    (``lapse_members``; a round holds its members' points accounts while it runs, so it is
    kept to a few thousand) — then send the expiry notices that are due. Exactly once
    under concurrent sweepers (each takes the members' accounts no one holds) and
    restartable (a round is all or nothing). Returns how many points lapsed."""
    total = 0
    while True:
        async with rt.sessionmaker() as db, transaction(db):
            params = {"now": rt.clock.now(), "lots": lots, "members": members}
            due = [str(u) for u in (await execute(db, _DUE_MEMBERS, params)).scalars()]
            lapsed = await lapse_members(db, rt, user_ids=due) if due else {}
        total += sum(lapsed.values())
        if not lapsed:  # done, or what is left is another sweeper's (or a spend's) now
            break
    await send_expiry_notices(rt)
    return total


async def send_expiry_notices(rt: Runtime) -> int:
    """ "n points expire on …" once per member and lapse instant, ``expiry_notice_days`` ahead."""
    r = rules().points
    now = rt.clock.now()
    horizon = now + timedelta(days=r.expiry_notice_days)
    sent = 0
    async with rt.sessionmaker() as db, transaction(db):
        due = (
            await db.execute(
                select(PointsLot.user_id, PointsLot.expires_at, func.sum(PointsLot.remaining))
                .outerjoin(
                    ExpiryNotice,
                    and_(
                        ExpiryNotice.user_id == PointsLot.user_id,
                        ExpiryNotice.expires_at == PointsLot.expires_at,
                    ),
                )
                .where(
                    PointsLot.remaining > 0,
                    PointsLot.expires_at > now,
                    PointsLot.expires_at <= horizon,
                    col(ExpiryNotice.user_id).is_(None),
                )
                .group_by(PointsLot.user_id, PointsLot.expires_at)
            )
        ).all()
        for user_id, expires_at, n in due:
            claimed = await db.scalar(
                insert(ExpiryNotice)
                .values(user_id=user_id, expires_at=expires_at, points=int(n), sent_at=now)
                .on_conflict_do_nothing()
                .returning(ExpiryNotice.user_id)
            )
            if claimed is None:
                continue
            last_day = points_rules.last_valid_day(expires_at, rt.clock.tz)
            await notify(
                db,
                rt,
                user_id=user_id,
                kind="points_expiring",
                data={
                    "points": int(n),
                    "expires_at": expires_at.isoformat(),
                    "last_day": last_day.isoformat(),
                    "text": f"{int(n)} points expire on {last_day.isoformat()}",
                },
            )
            sent += 1
    return sent


# -- what members see ----------------------------------------------------------------------


async def my_points(db: AsyncSession, rt: Runtime, *, user_id: str) -> PointsPublic:
    """Balance (live lots), lots with their expiry, what expires within the notice window,
    and points held for pending exchanges."""
    r = rules().points
    now = rt.clock.now()
    tz = rt.clock.tz
    lots = (
        (
            await db.execute(
                select(PointsLot)
                .where(PointsLot.user_id == user_id, PointsLot.remaining > 0, PointsLot.expires_at > now)
                .order_by(PointsLot.expires_at, PointsLot.earned_at, PointsLot.id)
            )
        )
        .scalars()
        .all()
    )
    horizon = now + timedelta(days=r.expiry_notice_days)
    soon: dict[datetime, int] = defaultdict(int)
    for lot in lots:
        if lot.expires_at <= horizon:
            soon[lot.expires_at] += lot.remaining
    from games.points import exchange  # the held points of pending exchanges

    return PointsPublic(
        balance=sum(lot.remaining for lot in lots),
        pending_out=await exchange.held_points(db, user_id=user_id),
        lots=[
            LotPublic(
                id=lot.id,
                source=lot.source,
                memo=lot.memo,
                amount=lot.amount,
                remaining=lot.remaining,
                earned_at=lot.earned_at,
                expires_at=lot.expires_at,
                last_day=points_rules.last_valid_day(lot.expires_at, tz),
            )
            for lot in lots
        ],
        expiring_soon=[
            ExpiringPublic(points=n, expires_at=at, last_day=points_rules.last_valid_day(at, tz))
            for at, n in sorted(soon.items())
        ],
    )


async def statement(db: AsyncSession, *, user_id: str, limit: int, cursor: str | None) -> Page[PointsLine]:
    """My points account's ledger lines, newest first."""
    before = decode_cursor(cursor, INT_CURSOR)
    rows = await ledger.lines(db, account_id=ledger.points_account(user_id), limit=limit + 1, before=before)
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return Page[PointsLine](
        items=[
            PointsLine(
                id=str(x.id),
                transaction_id=x.transaction_id,
                kind=x.kind,
                memo=x.memo,
                points=x.amount,
                balance_after=x.balance_after,
                created_at=x.created_at,
            )
            for x in rows[:limit]
        ],
        next_cursor=next_cursor,
    )


# -- a member's data (app/profile) --------------------------------------------------------


async def personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> dict[str, Any]:
    """The member's points as they see them: balance, live lots, what expires soon and what
    is held for exchanges (their export's ``points`` section)."""
    return (await my_points(db, rt, user_id=user_id)).model_dump(mode="json")


async def erase_personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> None:
    """``DELETE /v1/me``: the member's points are forfeited, through ``post_points`` like
    any other move: what lapsed goes to ``system:points_expired`` as at expiry, then every
    live point too (kind ``points_forfeited``), so their account and lots end at 0 and Σ
    stays 0 in PTS. Their partner memberships and expiry notices are deleted. Locks the
    member's points account."""
    account = ledger.points_account(user_id)
    if await ledger.lock_account(db, account) is None:
        return  # never held points
    await post_points(
        db,
        rt,
        user_id=user_id,
        kind="points_expired",
        ref="expiry",
        counter=ledger.POINTS_EXPIRED,
        lapse=True,
    )
    left = await live_balance(db, rt, user_id=user_id)
    if left > 0:
        await post_points(
            db,
            rt,
            user_id=user_id,
            kind="points_forfeited",
            ref="erasure",
            counter=ledger.POINTS_EXPIRED,
            amount=-left,
            memo="account erased: points forfeited",
        )
    await db.execute(delete(PartnerMember).where(col(PartnerMember.user_id) == user_id))
    await db.execute(delete(ExpiryNotice).where(col(ExpiryNotice.user_id) == user_id))
