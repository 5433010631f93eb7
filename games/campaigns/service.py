"""Card-payment campaigns (用卡立减): the switch's quote → capture → refund, and their admin.

The bank's payment switch asks, while it authorises a card payment, what discount it
gets (``quote``): the active campaigns are evaluated in memory (``cache``, ``rules``),
the best one is held — first in Redis (``gate``, one script call), then in PostgreSQL
(``campaign_hold``, one statement), which is the record — for ``hold_s`` seconds. The
switch then ``capture``s the payment (the discount is booked on the ledger from the
campaign's budget account to the merchant's settlement account, and the spending event
is recorded once, so energy and points are earned from what the cardholder paid) or lets
the hold expire (``expire_holds``, a periodic job: the discount and the use go back).
A ``refund`` (full or partial, once per ``refund_id``) takes back the discount's share
and, on a full refund, gives the cardholder their use back when the campaign says so.

Invariants (``models.py``): a campaign's held + paid discounts never exceed its total
budget, nor a day's its daily budget, and a cardholder holds at most one use per
campaign (or per day), whatever the concurrency and whatever Redis says.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import redis.exceptions
import structlog
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import hooks
from app.audiences import service as audiences
from app.auth import service as auth
from app.db import after_commit, execute, last_in_transaction, transaction
from app.errors import Conflict, Expired, NotFound, ValidationFailed
from app.events import service as events
from app.events.schemas import SpendingEventIn
from app.ids import new_id
from app.ledger import service as ledger
from app.notifications import service as notifications
from app.pagination import ID_CURSOR, Chunk, decode_cursor, encode_cursor
from app.runtime import Runtime, Slot
from app.uow import UnitOfWork
from games.campaigns import cache, gate, rules
from games.campaigns.models import (
    Campaign,
    CampaignDay,
    CampaignPayment,
    CampaignRefund,
    CampaignStatus,
    CampaignUse,
    PaymentState,
)
from games.campaigns.schemas import (
    BurnHour,
    BurnOut,
    CampaignAdmin,
    CampaignCreate,
    CampaignReport,
    CaptureOut,
    Discount,
    Limits,
    MyCampaign,
    QuoteIn,
    QuoteOut,
    RefundOut,
    TimeWindow,
)

log = structlog.get_logger()

# How many offers a quote tries when the best ones are used up or out of budget.
MAX_TRIES = 5
# A worker rebuilds a campaign's Redis state from PostgreSQL at most this often when
# PostgreSQL refused what Redis let through.
RECONCILE_EVERY_S = 2.0

_RNG: Slot[random.Random] = Slot("campaigns.rng", lambda rt: random.Random())


def campaign_account(campaign_id: str) -> str:
    """The campaign's budget on the ledger: funded from the bank's rewards at creation."""
    return f"campaign:{campaign_id}"


def merchant_account(merchant_id: str) -> str:
    """What the bank owes a merchant for the discounts it gave on the bank's behalf."""
    return f"merchant:{merchant_id}"


# -- admin -----------------------------------------------------------------------------


async def create_campaign(db: AsyncSession, rt: Runtime, *, admin_id: str, body: CampaignCreate) -> Campaign:
    """Create a campaign as a draft and fund its budget account with the total budget from
    the bank's rewards account. Raises nothing beyond the body's validation."""
    if body.audience_id is not None and not await audiences.exists_audience(db, body.audience_id):
        raise ValidationFailed("no such audience", field="audience_id", reason="unknown_audience")
    now = rt.clock.now()
    campaign = Campaign(
        id=new_id("cp_"),
        name=body.name,
        description=body.description,
        kind=body.kind,
        min_amount_fen=body.min_amount_fen,
        discount_fen=body.discount_fen,
        rate_bp=body.rate_bp,
        cap_fen=body.cap_fen,
        min_discount_fen=body.min_discount_fen,
        max_discount_fen=body.max_discount_fen,
        card_products=sorted(set(body.card_products)),
        mccs=sorted(set(body.mccs)),
        merchant_ids=sorted(set(body.merchant_ids)),
        channels=sorted({c.value for c in body.channels}),
        days_of_week=sorted(set(body.days_of_week)),
        time_windows=[list(w.minutes()) for w in body.time_windows],
        per=body.per,
        restore_use_on_refund=body.restore_use_on_refund,
        total_budget_fen=body.total_budget_fen,
        daily_budget_fen=body.daily_budget_fen,
        spent_fen=0,
        hold_s=body.hold_s,
        status=CampaignStatus.DRAFT,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        audience_id=body.audience_id,
        created_by=admin_id,
        created_at=now,
        updated_at=now,
    )
    async with transaction(db):
        db.add(campaign)
        await db.flush()
        account = campaign_account(campaign.id)
        await ledger.open_account(db, account_id=account, kind="campaign_budget", owner_id=None, now=now)
        await ledger.post(
            db,
            kind="campaign_funding",
            entries=ledger.move(ledger.REWARDS, account, body.total_budget_fen),
            now=now,
            ref_id=campaign.id,
            memo=f"budget of campaign {campaign.name}"[:200],
        )
    return campaign


async def get_campaign(db: AsyncSession, campaign_id: str) -> Campaign | None:
    return await db.get(Campaign, campaign_id)


async def _require(db: AsyncSession, campaign_id: str, *, lock: bool = False) -> Campaign:
    campaign = await db.get(Campaign, campaign_id, with_for_update=lock, populate_existing=lock)
    if campaign is None:
        raise NotFound("no such campaign", campaign_id=campaign_id)
    return campaign


def _after_change(db: AsyncSession, rt: Runtime, campaign_id: str) -> None:
    async def publish() -> None:
        await cache.changed(rt)
        await reconcile_campaign(rt, campaign_id)

    after_commit(db, publish)


async def schedule(
    db: AsyncSession,
    rt: Runtime,
    *,
    campaign_id: str,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> Campaign:
    """Make a draft or paused campaign run between its (new) start and end. Locks the
    campaign row. Raises NotFound, Conflict (ended, or already scheduled with no change),
    ValidationFailed (ends before it starts, or already over)."""
    now = rt.clock.now()
    async with transaction(db):
        c = await _require(db, campaign_id, lock=True)
        if c.status == CampaignStatus.ENDED:
            raise Conflict("the campaign has ended", status=c.status)
        start, end = starts_at or c.starts_at, ends_at or c.ends_at
        if end <= start:
            raise ValidationFailed("ends_at must be after starts_at")
        if end <= now:
            raise ValidationFailed("the campaign would be over already", ends_at=end.isoformat())
        c.starts_at, c.ends_at = start, end
        c.status = CampaignStatus.SCHEDULED
        c.updated_at = now
        await db.flush()
        _after_change(db, rt, campaign_id)
    return c


async def pause(db: AsyncSession, rt: Runtime, *, campaign_id: str) -> Campaign:
    """Stop a scheduled campaign for now (holds already made may still be captured).
    Locks the campaign row. Raises NotFound, Conflict (not scheduled)."""
    async with transaction(db):
        c = await _require(db, campaign_id, lock=True)
        if c.status != CampaignStatus.SCHEDULED:
            raise Conflict("only a scheduled campaign can be paused", status=c.status)
        c.status = CampaignStatus.PAUSED
        c.updated_at = rt.clock.now()
        await db.flush()
        _after_change(db, rt, campaign_id)
    return c


async def end(db: AsyncSession, rt: Runtime, *, campaign_id: str) -> Campaign:
    """End a campaign for good (holds already made may still be captured or refunded).
    Locks the campaign row. Raises NotFound, Conflict (already ended)."""
    now = rt.clock.now()
    async with transaction(db):
        c = await _require(db, campaign_id, lock=True)
        if c.status == CampaignStatus.ENDED:
            raise Conflict("the campaign has already ended", status=c.status)
        c.status = CampaignStatus.ENDED
        c.ends_at = max(min(c.ends_at, now), c.starts_at + timedelta(microseconds=1))
        c.updated_at = now
        await db.flush()
        _after_change(db, rt, campaign_id)

        async def give_back_budget() -> None:  # at once when no hold is open; else the job
            await return_budget(rt, campaign_id)

        after_commit(db, give_back_budget)
    return c


async def list_campaigns(
    db: AsyncSession, *, status: CampaignStatus | None, limit: int, cursor: str | None
) -> Chunk[Campaign]:
    """Campaigns, newest first. Raises ValidationFailed (a bad cursor)."""
    before = decode_cursor(cursor, ID_CURSOR)
    query = select(Campaign).order_by(col(Campaign.id).desc()).limit(limit + 1)
    if status is not None:
        query = query.where(col(Campaign.status) == status)
    if before is not None:
        query = query.where(col(Campaign.id) < before)
    found = list((await db.execute(query)).scalars())
    more = len(found) > limit
    found = found[:limit]
    return Chunk(found, encode_cursor(found[-1].id) if more and found else None)


async def day_spent(db: AsyncSession, campaign_ids: Sequence[str], day: date) -> dict[str, int]:
    rows = await db.execute(
        select(CampaignDay.campaign_id, CampaignDay.spent_fen).where(
            col(CampaignDay.campaign_id).in_(campaign_ids), CampaignDay.day == day
        )
    )
    return {r.campaign_id: int(r.spent_fen) for r in rows}


def remaining_of(c: Campaign) -> int:
    """What is left of the budget: neither held, nor paid, nor returned."""
    return c.total_budget_fen - c.spent_fen - c.budget_returned_fen


def running(c: Campaign, now: datetime) -> bool:
    return c.status == CampaignStatus.SCHEDULED and c.starts_at <= now < c.ends_at


_REPORT = text(
    """
SELECT count(*) FILTER (WHERE state IN ('captured', 'refunded')) AS payments,
       coalesce(sum(amount_fen) FILTER (WHERE state IN ('captured', 'refunded')), 0) AS spend_fen,
       coalesce(sum(discount_fen - discount_reversed_fen) FILTER (WHERE state IN ('captured', 'refunded')), 0)
           AS discount_paid_fen,
       count(DISTINCT user_id) FILTER (WHERE state IN ('captured', 'refunded')) AS unique_cardholders,
       coalesce(sum(refunded_fen), 0) AS refunded_fen,
       count(*) FILTER (WHERE state = 'held') AS holds_open,
       count(*) FILTER (WHERE state = 'expired') AS holds_expired,
       (SELECT count(*) FROM campaign_refunds r JOIN campaign_payments p2 ON p2.payment_id = r.payment_id
        WHERE p2.campaign_id = :campaign_id) AS refunds
FROM campaign_payments WHERE campaign_id = :campaign_id
"""
)


async def report(db: AsyncSession, rt: Runtime, *, campaign_id: str) -> CampaignReport:
    """What a campaign did: captured payments, discount paid, unique cardholders,
    refunds, holds, and the incremental spend: what the campaign's cardholders spent by
    card during it (from its start to its end, or now) against what the same cardholders
    spent in the period of the same length just before it (``app.events``). Raises NotFound."""
    c = await _require(db, campaign_id)
    r = (await db.execute(_REPORT, {"campaign_id": campaign_id})).one()
    holders = list(
        (
            await db.execute(
                select(CampaignPayment.user_id)
                .where(
                    CampaignPayment.campaign_id == campaign_id,
                    col(CampaignPayment.state).in_(
                        [PaymentState.CAPTURED.value, PaymentState.REFUNDED.value]
                    ),
                )
                .distinct()
            )
        ).scalars()
    )
    now = rt.clock.now()
    period_end = max(c.starts_at, min(c.ends_at, now))
    previous_start = c.starts_at - (period_end - c.starts_at)
    # While it runs, up to and including now (a payment captured this instant counts).
    upto = period_end if c.ends_at <= now else now + timedelta(microseconds=1)
    during = await events.spend_of(db, user_ids=holders, start=c.starts_at, end=upto)
    before = await events.spend_of(db, user_ids=holders, start=previous_start, end=c.starts_at)
    return CampaignReport(
        campaign_id=campaign_id,
        payments=r.payments,
        spend_fen=int(r.spend_fen),
        discount_paid_fen=int(r.discount_paid_fen),
        unique_cardholders=r.unique_cardholders,
        refunds=r.refunds,
        refunded_fen=int(r.refunded_fen),
        holds_open=r.holds_open,
        holds_expired=r.holds_expired,
        budget_remaining_fen=remaining_of(c),
        budget_returned_fen=c.budget_returned_fen,
        budget_returned_at=c.budget_returned_at,
        period_start=c.starts_at,
        period_end=period_end,
        previous_period_start=previous_start,
        cardholders_spend_fen=during,
        previous_period_spend_fen=before,
        incremental_spend_fen=during - before,
    )


_BURN = text(
    """
SELECT h, sum(held) AS held_fen, sum(paid) AS paid_fen, sum(quotes) AS quotes, sum(captures) AS captures FROM (
    SELECT date_trunc('hour', quoted_at, 'UTC') AS h, discount_fen AS held, 0 AS paid, 1 AS quotes, 0 AS captures
    FROM campaign_payments WHERE campaign_id = :campaign_id AND quoted_at >= :since
    UNION ALL
    SELECT date_trunc('hour', captured_at, 'UTC'), 0, discount_fen, 0, 1
    FROM campaign_payments WHERE campaign_id = :campaign_id AND captured_at >= :since
) x GROUP BY h
"""
)


async def burn(db: AsyncSession, rt: Runtime, *, campaign_id: str, hours: int) -> BurnOut:
    """The campaign's budget burn per hour over the last ``hours`` hours (oldest first,
    every hour listed). Raises NotFound."""
    await _require(db, campaign_id)
    now = rt.clock.now()
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    since = this_hour - timedelta(hours=hours - 1)
    rows = {r.h: r for r in await db.execute(_BURN, {"campaign_id": campaign_id, "since": since})}
    out = []
    for i in range(hours):
        h = since + timedelta(hours=i)
        r = rows.get(h)
        out.append(
            BurnHour(
                hour=h,
                held_fen=int(r.held_fen) if r else 0,
                paid_fen=int(r.paid_fen) if r else 0,
                quotes=int(r.quotes) if r else 0,
                captures=int(r.captures) if r else 0,
            )
        )
    return BurnOut(campaign_id=campaign_id, hours=out)


# -- reconciling Redis with PostgreSQL ----------------------------------------------------


async def reconcile_campaign(rt: Runtime, campaign_id: str) -> None:
    """Rebuild a campaign's Redis state (budget counters, cardholders who used it) from
    PostgreSQL; drop it for an ended or unknown campaign."""
    today = rt.clock.today()
    recent = [date.fromisoformat(d) for d in gate.recent_days(today)]
    async with rt.sessionmaker() as db:
        c = await db.get(Campaign, campaign_id)
        if c is None or c.status == CampaignStatus.ENDED:
            await gate.drop(rt, campaign_id, ["", *gate.recent_days(today)])
            return
        days = {
            r.day: int(r.spent_fen)
            for r in await db.execute(
                select(CampaignDay.day, CampaignDay.spent_fen).where(
                    CampaignDay.campaign_id == campaign_id, col(CampaignDay.day).in_(recent)
                )
            )
        }
        use_keys = [""] if c.per == rules.Per.CAMPAIGN else [d.isoformat() for d in recent]
        users: dict[str, list[str]] = {k: [] for k in use_keys}
        for r in await db.execute(
            select(CampaignUse.use_key, CampaignUse.user_id).where(
                CampaignUse.campaign_id == campaign_id, col(CampaignUse.use_key).in_(use_keys)
            )
        ):
            users[r.use_key].append(r.user_id)
        snap = gate.Snapshot(
            campaign_id=campaign_id,
            total_budget_fen=c.total_budget_fen,
            daily_budget_fen=c.daily_budget_fen,
            spent_fen=c.spent_fen,
            days=days,
            users=users,
        )
    await gate.load(rt, snap)


async def reconcile_all(rt: Runtime) -> int:
    """Rebuild every campaign's Redis state that may still be quoted (start-up, after a crash)."""
    async with rt.sessionmaker() as db:
        ids = list(
            (
                await db.execute(
                    select(Campaign.id).where(
                        col(Campaign.status).in_([CampaignStatus.SCHEDULED, CampaignStatus.PAUSED])
                    )
                )
            ).scalars()
        )
    for campaign_id in ids:
        await reconcile_campaign(rt, campaign_id)
    return len(ids)


@dataclass
class _Reconciles:
    last: dict[str, float] = field(default_factory=dict)


_RECONCILES: Slot[_Reconciles] = Slot("campaigns.reconciles", lambda rt: _Reconciles())


async def _reconcile_soon(rt: Runtime, campaign_id: str) -> None:
    """PostgreSQL refused what Redis let through: Redis is behind; rebuild it (rate-limited)."""
    seen = rt.slot(_RECONCILES).last
    now = time.monotonic()
    if now - seen.get(campaign_id, -RECONCILE_EVERY_S) < RECONCILE_EVERY_S:
        return
    seen[campaign_id] = now
    await reconcile_campaign(rt, campaign_id)


# -- the switch: quote, capture, refund ---------------------------------------------------

_HOLD = text(
    "SELECT campaign_hold(CAST(:payment_id AS varchar), CAST(:user_id AS varchar), CAST(:card_ref AS varchar),"
    " CAST(:merchant_id AS varchar), CAST(:mcc AS varchar), CAST(:channel AS varchar),"
    " CAST(:category AS varchar), CAST(:amount_fen AS bigint), CAST(:campaign_id AS varchar),"
    " CAST(:discount_fen AS bigint), CAST(:use_key AS varchar), CAST(:day AS date),"
    " CAST(:now AS timestamptz), CAST(:expires_at AS timestamptz))"
)


async def _db_hold(db: AsyncSession, params: dict[str, Any]) -> str:
    return str((await execute(db, _HOLD, params)).scalar_one())


async def _redis_hold(rt: Runtime, *, offer: rules.Offer, user_id: str, day: str, use_key: str) -> int:
    """The Redis hold of an offer (reconciling a missing state first). A Redis that does
    not answer lets the quote go straight to PostgreSQL, the record."""
    try:
        got = await gate.hold(
            rt,
            campaign_id=offer.rule.id,
            user_id=user_id,
            discount_fen=offer.discount_fen,
            day=day,
            use_key=use_key,
        )
        if got == gate.NOT_LOADED:
            await reconcile_campaign(rt, offer.rule.id)
            got = await gate.hold(
                rt,
                campaign_id=offer.rule.id,
                user_id=user_id,
                discount_fen=offer.discount_fen,
                day=day,
                use_key=use_key,
            )
    except redis.exceptions.RedisError:
        log.warning("campaign_redis_unavailable", campaign_id=offer.rule.id)
        return UNCHECKED
    return got


UNCHECKED = 9  # Redis did not answer: PostgreSQL alone decides


async def _release(
    rt: Runtime,
    *,
    campaign_id: str,
    user_id: str,
    discount_fen: int,
    day: str,
    use_key: str,
    restore_use: bool,
) -> None:
    try:
        await gate.release(
            rt,
            campaign_id=campaign_id,
            user_id=user_id,
            discount_fen=discount_fen,
            day=day,
            use_key=use_key,
            restore_use=restore_use,
        )
    except redis.exceptions.RedisError:  # the next reconcile rebuilds it from PostgreSQL
        log.warning("campaign_redis_release_failed", campaign_id=campaign_id)


async def _replayed(db: AsyncSession, q: QuoteIn) -> QuoteOut:
    """A quote for a payment_id seen before: the first answer again, if it is the same payment."""
    p = await db.get(CampaignPayment, q.payment_id, populate_existing=True)
    assert p is not None
    same = (p.user_id, p.card_ref, p.amount_fen, p.mcc, p.merchant_id, p.channel) == (
        q.user_id,
        q.card_ref,
        q.amount_fen,
        q.mcc,
        q.merchant_id,
        q.channel.value,
    )
    if not same:
        raise Conflict("this payment_id was quoted with other details", payment_id=q.payment_id)
    return QuoteOut(
        payment_id=p.payment_id,
        discount_fen=p.discount_fen,
        campaign_id=p.campaign_id,
        hold_expires_at=p.hold_expires_at,
    )


async def quote(db: AsyncSession, rt: Runtime, *, q: QuoteIn) -> QuoteOut:
    """The best discount a card payment gets, held for the campaign's ``hold_s``; 0 and no
    campaign when none applies (the payment is recorded either way, for its capture).
    Idempotent by ``payment_id``. The card's read, then per offer tried (best first) a
    Redis hold and ``campaign_hold``, each statement its own transaction (no BEGIN or
    COMMIT round trips: the read needs no snapshot, and ``campaign_hold`` writes all of a
    hold or nothing). Raises NotFound (the card is not that user's, or unknown), Conflict
    (the payment_id was quoted with other details)."""
    async with transaction(db, autocommit=True):
        out = await _quote(db, rt, q)
    return out if out is not None else await _replayed(db, q)


async def _in_audience(db: AsyncSession, user_id: str, offers: list[rules.Offer]) -> list[rules.Offer]:
    """The offers whose campaign targets everyone or an audience the member is in: one
    stored-row lookup, and none when no offer targets an audience."""
    wanted = sorted({o.rule.audience_id for o in offers if o.rule.audience_id is not None})
    if not wanted:
        return offers
    member_of = await audiences.memberships(db, user_id=user_id, segment_ids=wanted)
    return [o for o in offers if o.rule.audience_id is None or o.rule.audience_id in member_of]


async def _quote(db: AsyncSession, rt: Runtime, q: QuoteIn) -> QuoteOut | None:
    """``quote`` inside its transaction; None when the payment_id was quoted before."""
    holder = await auth.card_holder(db, q.card_ref)
    if holder is None or holder.user_id != q.user_id:
        raise NotFound("no such card for this user", reason="unknown_card")
    now = rt.clock.now()
    local = rt.clock.local(now)
    day = local.date()
    catalogue = await cache.catalogue(rt)
    payment = rules.Payment(
        amount_fen=q.amount_fen,
        mcc=q.mcc,
        merchant_id=q.merchant_id,
        channel=q.channel.value,
        card_product=holder.product,
    )
    offers = rules.ranked_offers(catalogue.for_mcc(q.mcc), payment, local, rt.slot(_RNG))
    offers = await _in_audience(db, q.user_id, offers)
    params: dict[str, Any] = {
        "payment_id": q.payment_id,
        "user_id": q.user_id,
        "card_ref": q.card_ref,
        "merchant_id": q.merchant_id,
        "mcc": q.mcc,
        "channel": q.channel.value,
        "category": rules.spending_category(q.channel),
        "amount_fen": q.amount_fen,
        "day": day,
        "now": now,
    }
    for offer in offers[:MAX_TRIES]:
        use_key = rules.use_key(offer.rule, day.isoformat())
        got = await _redis_hold(rt, offer=offer, user_id=q.user_id, day=day.isoformat(), use_key=use_key)
        if got not in (gate.HELD, UNCHECKED):
            continue
        expires_at = now + timedelta(seconds=offer.rule.hold_s)
        release = {
            "campaign_id": offer.rule.id,
            "user_id": q.user_id,
            "discount_fen": offer.discount_fen,
            "day": day.isoformat(),
            "use_key": use_key,
        }

        async def give_back(
            release: dict[str, Any] = release, restore_use: bool = True, held: bool = got == gate.HELD
        ) -> None:
            if held:
                await _release(rt, restore_use=restore_use, **release)

        status = await _db_hold(
            db,
            params
            | {
                "campaign_id": offer.rule.id,
                "discount_fen": offer.discount_fen,
                "use_key": use_key,
                "expires_at": expires_at,
            },
        )
        if status == "held":
            # campaign_hold has committed the hold: Redis keeps its own
            return QuoteOut(
                payment_id=q.payment_id,
                discount_fen=offer.discount_fen,
                campaign_id=offer.rule.id,
                hold_expires_at=expires_at,
            )
        # PostgreSQL refused what Redis let through (and wrote nothing): give the Redis
        # hold back (the use stays taken when PostgreSQL says it is), and catch Redis up.
        await give_back(restore_use=status != "used")
        if status == "replay":
            return None
        if got == gate.HELD:
            await _reconcile_soon(rt, offer.rule.id)
    status = await _db_hold(
        db, params | {"campaign_id": None, "discount_fen": 0, "use_key": None, "expires_at": None}
    )
    if status == "replay":
        return None
    return QuoteOut(payment_id=q.payment_id, discount_fen=0, campaign_id=None, hold_expires_at=None)


def _capture_out(p: CampaignPayment) -> CaptureOut:
    return CaptureOut(
        payment_id=p.payment_id,
        state=p.state,
        amount_fen=p.amount_fen,
        discount_fen=p.discount_fen,
        paid_fen=p.amount_fen - p.discount_fen,
        campaign_id=p.campaign_id,
        captured_at=p.captured_at,
    )


_CAPTURE = text(
    """
UPDATE campaign_payments SET state = 'captured', captured_at = :now
WHERE payment_id = :payment_id AND state = 'held' AND (campaign_id IS NULL OR hold_expires_at > :now)
RETURNING payment_id
"""
)


async def capture(db: AsyncSession, rt: Runtime, *, payment_id: str) -> CaptureOut:
    """Book a quoted payment: the discount moves on the ledger from the campaign's budget
    account to the merchant's settlement account, the spending event (``event_id`` =
    ``payment_id``, the amount the cardholder paid) is recorded once, and the cardholder
    is told of the discount. A second capture answers the first. Locks the payment row
    (conditional update). Raises NotFound, Expired (the hold lapsed: quote again)."""
    now = rt.clock.now()
    async with transaction(db):
        won = (await execute(db, _CAPTURE, {"payment_id": payment_id, "now": now})).first()
        p = await db.get(CampaignPayment, payment_id, populate_existing=True)
        if p is None:
            raise NotFound("no such payment", payment_id=payment_id)
        if won is None:
            if p.state in (PaymentState.CAPTURED, PaymentState.REFUNDED):
                return _capture_out(p)
            raise Expired("the discount's hold has expired; quote the payment again", payment_id=payment_id)
        paid = p.amount_fen - p.discount_fen
        if p.discount_fen > 0 and p.campaign_id is not None:
            campaign = await _require(db, p.campaign_id)
            merchant = merchant_account(p.merchant_id)
            await ledger.open_account(
                db, account_id=merchant, kind="merchant_settlement", owner_id=None, now=now
            )
            entries = ledger.move(campaign_account(p.campaign_id), merchant, p.discount_fen)

            async def book() -> None:  # the campaign's account is every capture's: lock it last
                await ledger.post(db, kind="campaign_discount", entries=entries, now=now, ref_id=payment_id)

            await last_in_transaction(db, book)
            await notifications.notify(
                db,
                rt,
                user_id=p.user_id,
                kind="campaign_discount",
                data={
                    "payment_id": p.payment_id,
                    "campaign_id": p.campaign_id,
                    "campaign_name": campaign.name,
                    "merchant_id": p.merchant_id,
                    "amount_fen": p.amount_fen,
                    "discount_fen": p.discount_fen,
                    "paid_fen": paid,
                },
            )
        if paid > 0:
            spending = SpendingEventIn(
                event_id=p.payment_id,
                user_id=p.user_id,
                amount_fen=paid,
                category=p.category,
                occurred_at=now,
            )
            await events.record_spending(db, rt, events=[spending])
    return _capture_out(p)


def _refund_out(r: CampaignRefund, p: CampaignPayment) -> RefundOut:
    return RefundOut(
        refund_id=r.refund_id,
        payment_id=r.payment_id,
        amount_fen=r.amount_fen,
        discount_reversed_fen=r.discount_reversed_fen,
        cardholder_refund_fen=r.amount_fen - r.discount_reversed_fen,
        use_restored=r.use_restored,
        state=p.state,
        refunded_fen=p.refunded_fen,
    )


def reversed_share(discount_fen: int, amount_fen: int, refunded_fen: int) -> int:
    """The discount taken back once ``refunded_fen`` of ``amount_fen`` has been refunded:
    pro rata, rounded down, all of it on a full refund (so the parts add up)."""
    if refunded_fen >= amount_fen:
        return discount_fen
    return discount_fen * refunded_fen // amount_fen


async def refund(
    db: AsyncSession, rt: Runtime, *, payment_id: str, refund_id: str, amount_fen: int | None
) -> RefundOut:
    """Refund part or all of a captured payment, once per ``refund_id``: the discount's
    share goes back from the merchant's settlement account to the campaign (and to its
    budget), listeners of ``on_spending_refunded`` take back what the payment earned, and
    on a full refund the cardholder's use comes back if the campaign says so. Locks the
    payment row. Raises NotFound, Conflict (not captured, fully refunded, or the
    refund_id used for another refund), ValidationFailed (more than is left)."""
    now = rt.clock.now()
    async with transaction(db):
        p = await db.get(CampaignPayment, payment_id, with_for_update=True, populate_existing=True)
        if p is None:
            raise NotFound("no such payment", payment_id=payment_id)
        done = await db.get(CampaignRefund, refund_id)
        if done is not None:
            if done.payment_id != payment_id or (amount_fen is not None and amount_fen != done.amount_fen):
                raise Conflict("this refund_id was used for another refund", refund_id=refund_id)
            return _refund_out(done, p)
        if p.state == PaymentState.REFUNDED:
            raise Conflict("the payment is refunded in full", payment_id=payment_id, reason="refunded")
        if p.state != PaymentState.CAPTURED:
            raise Conflict("only a captured payment can be refunded", payment_id=payment_id, reason=p.state)
        left = p.amount_fen - p.refunded_fen
        amount = left if amount_fen is None else amount_fen
        if amount > left:
            raise ValidationFailed("more than is left to refund", left_fen=left, field="amount_fen")
        refunded = p.refunded_fen + amount
        take_back = reversed_share(p.discount_fen, p.amount_fen, refunded) - p.discount_reversed_fen
        full = refunded == p.amount_fen
        # Locked when a share goes back: the budget's return (``return_budget``) decides
        # under the same lock whether the share goes to the campaign or to its funder.
        campaign = (
            await _require(db, p.campaign_id, lock=take_back > 0) if p.campaign_id is not None else None
        )
        restore = bool(full and campaign is not None and campaign.restore_use_on_refund)
        inserted = (
            await db.execute(
                pg_insert(CampaignRefund)
                .values(
                    refund_id=refund_id,
                    payment_id=payment_id,
                    amount_fen=amount,
                    discount_reversed_fen=take_back,
                    use_restored=restore,
                    created_at=now,
                )
                .on_conflict_do_nothing()
                .returning(col(CampaignRefund.refund_id))
            )
        ).first()
        if inserted is None:  # the same refund_id, for another payment, at the same time
            raise Conflict("this refund_id was used for another refund", refund_id=refund_id)
        paid_before = p.amount_fen - p.discount_fen
        cardholder_gets = amount - take_back
        p.refunded_fen = refunded
        p.discount_reversed_fen += take_back
        if full:
            p.state = PaymentState.REFUNDED
            p.closed_at = now
        await db.flush()
        if restore:
            await db.execute(
                CampaignUse.__table__.delete().where(CampaignUse.__table__.c.payment_id == payment_id)  # type: ignore[attr-defined]
            )
        if take_back > 0 and campaign is not None:
            if campaign.budget_returned_at is not None:
                # The campaign's budget went back already: its counters are closed, and
                # the share goes straight back to the account that funded the campaign.
                back_to = await funding_account(db, campaign.id)
            else:
                await db.execute(
                    text("UPDATE campaigns SET spent_fen = spent_fen - :d WHERE id = :c"),
                    {"d": take_back, "c": campaign.id},
                )
                await db.execute(
                    text(
                        "UPDATE campaign_days SET spent_fen = spent_fen - :d"
                        " WHERE campaign_id = :c AND day = :day"
                    ),
                    {"d": take_back, "c": campaign.id, "day": p.day},
                )
                back_to = campaign_account(campaign.id)
            entries = ledger.move(merchant_account(p.merchant_id), back_to, take_back)

            async def book() -> None:
                await ledger.post(
                    db, kind="campaign_discount_reversal", entries=entries, now=now, ref_id=refund_id
                )

            await last_in_transaction(db, book)
        if cardholder_gets > 0:
            await hooks.fire_spending_refunded(
                db,
                rt,
                hooks.SpendingRefund(
                    event_id=payment_id,
                    refund_id=refund_id,
                    user_id=p.user_id,
                    category=p.category,
                    amount_fen=cardholder_gets,
                    event_amount_fen=paid_before,
                    refunded_at=now,
                ),
            )
        if campaign is not None and (take_back > 0 or restore):
            release = {
                "campaign_id": campaign.id,
                "user_id": p.user_id,
                "discount_fen": take_back,
                "day": p.day.isoformat(),
                "use_key": p.use_key or "",
                "restore_use": restore,
            }

            async def give_back() -> None:
                await _release(rt, **release)

            after_commit(db, give_back)
        done = CampaignRefund(
            refund_id=refund_id,
            payment_id=payment_id,
            amount_fen=amount,
            discount_reversed_fen=take_back,
            use_restored=restore,
            created_at=now,
        )
    return _refund_out(done, p)


# -- hold expiry (a periodic job) ----------------------------------------------------------

_EXPIRE = text(
    """
UPDATE campaign_payments SET state = 'expired', closed_at = :now
WHERE payment_id IN (
    SELECT payment_id FROM campaign_payments
    WHERE state = 'held' AND campaign_id IS NOT NULL AND hold_expires_at <= :now
    ORDER BY hold_expires_at LIMIT :batch FOR UPDATE SKIP LOCKED
) AND state = 'held'
RETURNING payment_id, campaign_id, user_id, discount_fen, day, use_key
"""
)


async def expire_holds(rt: Runtime, *, batch: int = 500) -> int:
    """Give expired holds back: the discount to the campaign's budgets (total and day) and
    the cardholder's use; then to Redis. Each hold once (a conditional update). Returns how many."""
    total = 0
    while True:
        now = rt.clock.now()
        async with UnitOfWork.open(rt.sessionmaker) as uow:
            db = uow.db
            rows = (await execute(db, _EXPIRE, {"now": now, "batch": batch})).all()
            if not rows:
                break
            await db.execute(
                CampaignUse.__table__.delete().where(  # type: ignore[attr-defined]
                    CampaignUse.__table__.c.payment_id.in_([r.payment_id for r in rows])  # type: ignore[attr-defined]
                )
            )
            by_campaign: dict[str, int] = defaultdict(int)
            by_day: dict[tuple[str, date], int] = defaultdict(int)
            for r in rows:
                by_campaign[r.campaign_id] += int(r.discount_fen)
                by_day[(r.campaign_id, r.day)] += int(r.discount_fen)
            for campaign_id in sorted(by_campaign):
                await db.execute(
                    text("UPDATE campaigns SET spent_fen = spent_fen - :d WHERE id = :c"),
                    {"d": by_campaign[campaign_id], "c": campaign_id},
                )
            for (campaign_id, day), d in sorted(by_day.items()):
                await db.execute(
                    text(
                        "UPDATE campaign_days SET spent_fen = spent_fen - :d WHERE campaign_id = :c AND day = :day"
                    ),
                    {"d": d, "c": campaign_id, "day": day},
                )

            async def give_back(rows: Sequence[Any] = rows) -> None:
                for r in rows:
                    await _release(
                        rt,
                        campaign_id=r.campaign_id,
                        user_id=r.user_id,
                        discount_fen=int(r.discount_fen),
                        day=r.day.isoformat(),
                        use_key=r.use_key or "",
                        restore_use=True,
                    )

            uow.after_commit(give_back)
        total += len(rows)
        if len(rows) < batch:
            break
    if total:
        log.info("campaign_holds_expired", count=total)
    return total


# -- the end of a campaign: its leftover budget goes back (a periodic job) -----------------

_OVERDUE = text(
    """
UPDATE campaigns SET status = 'ended', updated_at = :now
WHERE id IN (
    SELECT id FROM campaigns WHERE status = 'scheduled' AND ends_at <= :now
    ORDER BY ends_at LIMIT :batch FOR UPDATE SKIP LOCKED
) AND status = 'scheduled' AND ends_at <= :now
RETURNING id
"""
)

_RETURNABLE = text(
    """
SELECT c.id FROM campaigns c
WHERE c.status = 'ended' AND c.budget_returned_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM campaign_payments p WHERE p.campaign_id = c.id AND p.state = 'held')
ORDER BY c.ends_at, c.id LIMIT :batch
"""
)

_CLAIM_RETURN = text(
    """
SELECT id, total_budget_fen, spent_fen FROM campaigns
WHERE id = :id AND status = 'ended' AND budget_returned_at IS NULL
FOR UPDATE SKIP LOCKED
"""
)

_HOLDS_OPEN = text(
    "SELECT EXISTS (SELECT 1 FROM campaign_payments WHERE campaign_id = :id AND state = 'held')"
)

_MARK_RETURNED = text(
    """
UPDATE campaigns SET budget_returned_fen = :fen, budget_returned_at = :now, updated_at = :now
WHERE id = :id AND budget_returned_at IS NULL
"""
)


async def funding_account(db: AsyncSession, campaign_id: str) -> str:
    """The account that funded the campaign's budget (``create_campaign``: the bank's rewards)."""
    found = await ledger.source_of(
        db, kind="campaign_funding", ref_id=campaign_id, to_account=campaign_account(campaign_id)
    )
    return found or ledger.REWARDS


async def end_overdue(rt: Runtime, *, batch: int = 100) -> list[str]:
    """End the scheduled campaigns whose end time has passed (each once: a conditional
    update). Paused and draft ones are left to their admin, who may give them new dates."""
    ended: list[str] = []
    while True:
        async with UnitOfWork.open(rt.sessionmaker) as uow:
            rows = (await execute(uow.db, _OVERDUE, {"now": rt.clock.now(), "batch": batch})).all()
            ids = [r.id for r in rows]

            async def publish(ids: list[str] = ids) -> None:
                await cache.changed(rt)
                for campaign_id in ids:
                    await reconcile_campaign(rt, campaign_id)  # drops its Redis state

            if ids:
                uow.after_commit(publish)
        ended += ids
        if len(ids) < batch:
            break
    if ended:
        log.info("campaigns_ended", count=len(ended))
    return ended


async def return_budget(rt: Runtime, campaign_id: str) -> int | None:
    """Give an ended campaign's leftover budget back to the account that funded it: what
    is left on its budget account, in one posting (``campaign_budget_return``), once its
    last hold is captured or expired. Once: the campaign's row is locked (skipped when
    another runner has it) and the return recorded in the same transaction. Returns the
    fen returned (0 when nothing was left), or None when it is not (yet) the time: not
    ended, holds still open, already returned, or another runner is at it."""
    now = rt.clock.now()
    async with rt.sessionmaker() as db, transaction(db):
        c = (await execute(db, _CLAIM_RETURN, {"id": campaign_id})).first()
        if c is None or (await execute(db, _HOLDS_OPEN, {"id": campaign_id})).scalar_one():
            return None
        account = campaign_account(campaign_id)
        left = await ledger.lock_account(db, account) or 0
        expected = int(c.total_budget_fen) - int(c.spent_fen)
        if left != expected:  # the ledger is the money's record; say so, and return what it holds
            log.error(
                "campaign_budget_mismatch", campaign_id=campaign_id, ledger_fen=left, expected_fen=expected
            )
        if left > 0:
            await ledger.post(
                db,
                kind="campaign_budget_return",
                entries=ledger.move(account, await funding_account(db, campaign_id), left),
                now=now,
                ref_id=campaign_id,
                memo="leftover budget of an ended campaign",
            )
        await execute(db, _MARK_RETURNED, {"id": campaign_id, "fen": left, "now": now})
    log.info("campaign_budget_returned", campaign_id=campaign_id, fen=left)
    return left


async def close_finished(rt: Runtime, *, batch: int = 100) -> int:
    """The periodic job: end the campaigns past their end time, then give back the
    leftover budget of every ended campaign whose holds are all closed. Returns how many
    budgets went back."""
    await end_overdue(rt, batch=batch)
    returned = 0
    while True:
        async with rt.sessionmaker() as db:
            ids = list((await execute(db, _RETURNABLE, {"batch": batch})).scalars())
        done = [cid for cid in ids if await return_budget(rt, cid) is not None]
        returned += len(done)
        if len(ids) < batch or not done:
            break
    return returned


# -- members -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Eligible:
    rule: rules.Rule
    uses_left: int
    budget_left: bool


async def my_campaigns(db: AsyncSession, rt: Runtime, *, user_id: str) -> list[Eligible]:
    """The running campaigns my cards may take part in, with whether I may still get each
    (this campaign, or today) and whether its budget has anything left."""
    products = await auth.card_products(db, user_id)
    if not products:
        return []
    now = rt.clock.now()
    today = rt.clock.today().isoformat()
    catalogue = await cache.catalogue(rt)
    found = [r for r in catalogue.rules if rules.live(r, now) and rules.card_fits(r, products)]
    if not found:
        return []
    targeted = sorted({r.audience_id for r in found if r.audience_id is not None})
    member_of = await audiences.memberships(db, user_id=user_id, segment_ids=targeted)
    found = [r for r in found if r.audience_id is None or r.audience_id in member_of]
    if not found:
        return []
    ids = [r.id for r in found]
    used = {
        (u.campaign_id, u.use_key)
        for u in await db.execute(
            select(CampaignUse.campaign_id, CampaignUse.use_key).where(
                CampaignUse.user_id == user_id, col(CampaignUse.campaign_id).in_(ids)
            )
        )
    }
    budget = {
        r.id: (int(r.spent_fen), int(r.total_budget_fen))
        for r in await db.execute(
            select(Campaign.id, Campaign.spent_fen, Campaign.total_budget_fen).where(
                col(Campaign.id).in_(ids)
            )
        )
    }
    out = []
    for r in sorted(found, key=lambda r: (r.ends_at or now, r.id)):
        spent, total = budget.get(r.id, (0, r.total_budget_fen))
        smallest = {
            rules.DiscountKind.THRESHOLD: r.discount_fen,
            rules.DiscountKind.PERCENT: 1,
            rules.DiscountKind.RANDOM: r.min_discount_fen,
        }[r.kind]
        out.append(
            Eligible(
                rule=r,
                uses_left=0 if (r.id, rules.use_key(r, today)) in used else 1,
                budget_left=total - spent >= smallest,
            )
        )
    return out


# -- shaping -------------------------------------------------------------------------------


def discount_of(r: rules.Rule | Campaign) -> Discount:
    kind = rules.DiscountKind(r.kind)
    return Discount(
        kind=kind,
        min_amount_fen=r.min_amount_fen,
        discount_fen=r.discount_fen if kind is rules.DiscountKind.THRESHOLD else None,
        rate_bp=r.rate_bp if kind is rules.DiscountKind.PERCENT else None,
        cap_fen=r.cap_fen if kind is rules.DiscountKind.PERCENT else None,
        min_discount_fen=r.min_discount_fen if kind is rules.DiscountKind.RANDOM else None,
        max_discount_fen=r.max_discount_fen if kind is rules.DiscountKind.RANDOM else None,
    )


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def limits_of(r: rules.Rule | Campaign) -> Limits:
    return Limits(
        card_products=sorted(r.card_products),
        mccs=sorted(r.mccs),
        merchant_ids=sorted(r.merchant_ids),
        channels=sorted(r.channels),
        days_of_week=sorted(r.days_of_week),
        time_windows=[TimeWindow(start=_hhmm(w[0]), end=_hhmm(w[1])) for w in r.time_windows],
    )


async def admin_views(db: AsyncSession, rt: Runtime, campaigns: Sequence[Campaign]) -> list[CampaignAdmin]:
    """Campaigns as the admin API shows them, with today's spend."""
    now = rt.clock.now()
    today = await day_spent(db, [c.id for c in campaigns], rt.clock.today())
    return [
        CampaignAdmin(
            id=c.id,
            name=c.name,
            description=c.description,
            status=c.status,
            running=running(c, now),
            discount=discount_of(c),
            limits=limits_of(c),
            per=c.per,
            restore_use_on_refund=c.restore_use_on_refund,
            total_budget_fen=c.total_budget_fen,
            daily_budget_fen=c.daily_budget_fen,
            spent_fen=c.spent_fen,
            remaining_fen=remaining_of(c),
            today_spent_fen=today.get(c.id, 0),
            hold_s=c.hold_s,
            starts_at=c.starts_at,
            ends_at=c.ends_at,
            audience_id=c.audience_id,
            created_at=c.created_at,
        )
        for c in campaigns
    ]


async def admin_view(db: AsyncSession, rt: Runtime, *, campaign_id: str) -> CampaignAdmin:
    """One campaign for the admin API. Raises NotFound."""
    c = await _require(db, campaign_id)
    return (await admin_views(db, rt, [c]))[0]


def member_view(e: Eligible) -> MyCampaign:
    r = e.rule
    assert r.starts_at is not None and r.ends_at is not None
    return MyCampaign(
        id=r.id,
        name=r.name,
        description=r.description,
        discount=discount_of(r),
        limits=limits_of(r),
        per=r.per,
        uses_left=e.uses_left,
        budget_left=e.budget_left,
        starts_at=r.starts_at,
        ends_at=r.ends_at,
    )
