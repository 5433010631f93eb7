"""The rights pool (权益池): a catalogue of rights members claim with points or free for
their tier, vouchers with an unguessable code and a QR code, and merchants who verify
and redeem a code once.

A claim (``claim``) is one transaction that takes, in this order (the order a refund
takes them too, so the two never deadlock):

1. the month's free tier right of the right's kind (``rights_tier_claims``, primary key)
   when the member's tier (``games.points.tiers.tier_of``) lists the kind among its
   monthly rights — then the claim costs nothing;
2. otherwise the points price, spent through ``games.points.service.spend`` (the one
   posting function, ``post_points``; it locks the member's points account);
3. the member's claim in the right's period (``rights_usage``: a conditional upsert,
   ``count < per_user_limit``);
4. one unit of stock (``UPDATE rights SET stock_left = stock_left - 1 WHERE stock_left >
   0``; the hot row, taken last — after the voucher and the idempotency record, just
   before the commit (``last_in_transaction``) — so it is held shortest). A right read as
   sold out is refused before step 1, with nothing written.

Any refusal rolls back everything before it. A refund (``refund``, before use and
before expiry) gives back, in the same order, the month's free right, the points (the
draws restored to the lots they came from), the claim and the stock. ``expire_due``
(job ``voucher_expiry``) closes vouchers past their expiry; their points stay spent.
"""

from __future__ import annotations

import io
import secrets
from datetime import date, datetime, timedelta
from typing import Any

import qrcode
from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db import last_in_transaction, transaction
from app.errors import (
    Conflict,
    Expired,
    Forbidden,
    LimitExceeded,
    NotFound,
    SoldOut,
    ValidationFailed,
)
from app.ids import new_id
from app.ledger import service as ledger
from app.pagination import ID_CURSOR, Page, decode_cursor, encode_cursor
from app.runtime import Runtime
from games.points import service as points
from games.points import tiers
from games.rights.models import LimitPeriod, Right, RightStatus, RightUsage, TierClaim, Voucher, VoucherState
from games.rights.schemas import (
    RightAdmin,
    RightCreate,
    RightPatch,
    RightPublic,
    VoucherCheck,
    VoucherPublic,
)
from games.rules import rules

# Crockford's base32: no I, L, O, U (nothing to misread at a till).
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16  # 80 random bits


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    """``QZ-XXXX-XXXX-XXXX-XXXX``, as printed and in the QR code."""
    return "QZ-" + "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalise_code(typed: str) -> str | None:
    """A code as a cashier may type it (dashes, spaces, lower case, O for 0, I/L for 1)."""
    s = typed.upper().replace("-", "").replace(" ", "")
    if s.startswith("QZ") and len(s) == CODE_LENGTH + 2:
        s = s[2:]
    s = s.translate(str.maketrans("OIL", "011"))
    if len(s) != CODE_LENGTH or any(c not in ALPHABET for c in s):
        return None
    return s


def period_key(period: LimitPeriod, today: date) -> str:
    if period == LimitPeriod.DAY:
        return f"d:{today.isoformat()}"
    if period == LimitPeriod.MONTH:
        return f"m:{today:%Y-%m}"
    if period == LimitPeriod.YEAR:
        return f"y:{today:%Y}"
    return "ever"


def free_for_tiers(kind: str) -> list[str]:
    """The tiers whose monthly rights (the rules) list ``kind``."""
    return [t.id for t in rules().points.tiers if kind in t.monthly_rights]


def effective_state(v: Voucher, now: datetime) -> VoucherState:
    """An issued voucher past its expiry is expired, whether or not the job has run."""
    if v.state == VoucherState.ISSUED and v.expires_at <= now:
        return VoucherState.EXPIRED
    return VoucherState(v.state)


# -- admin ---------------------------------------------------------------------------------


def admin_view(r: Right) -> RightAdmin:
    return RightAdmin(
        id=r.id,
        kind=r.kind,
        title=r.title,
        description=r.description,
        partner=r.partner,
        points_price=r.points_price,
        tiers=list(r.tiers),
        free_for_tiers=free_for_tiers(r.kind),
        stock_total=r.stock_total,
        stock_left=r.stock_left,
        per_user_limit=r.per_user_limit,
        limit_period=r.limit_period,
        voucher_valid_days=r.voucher_valid_days,
        available_from=r.available_from,
        available_until=r.available_until,
        status=r.status,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


def _check_tiers(names: list[str]) -> None:
    known = {t.id for t in rules().points.tiers}
    if unknown := sorted(set(names) - known):
        raise ValidationFailed("unknown tiers", field="tiers", unknown=unknown, known=sorted(known))


async def create_right(db: AsyncSession, rt: Runtime, *, body: RightCreate) -> RightAdmin:
    """Add a right to the catalogue (active at once, claimable within its window).
    Raises ValidationFailed (unknown tiers; nothing free and no price)."""
    _check_tiers(body.tiers)
    if body.points_price is None and not free_for_tiers(body.kind):
        raise ValidationFailed(
            "a right without a points price must be a kind some tier gets free each month",
            field="points_price",
        )
    now = rt.clock.now()
    r = Right(
        id=new_id("rt_"),
        kind=body.kind,
        title=body.title,
        description=body.description,
        partner=body.partner,
        points_price=body.points_price,
        tiers=sorted(set(body.tiers)),
        stock_total=body.stock,
        stock_left=body.stock,
        per_user_limit=body.per_user_limit,
        limit_period=body.limit_period,
        voucher_valid_days=body.voucher_valid_days,
        available_from=body.available_from,
        available_until=body.available_until,
        status=RightStatus.ACTIVE,
        created_at=now,
        updated_at=now,
    )
    async with transaction(db):
        db.add(r)
    return admin_view(r)


async def patch_right(db: AsyncSession, rt: Runtime, *, right_id: str, body: RightPatch) -> RightAdmin:
    """Change a right: title, description, status (pause/resume), price, per-member limit,
    end of the window, and the total stock (never below what was issued). Raises
    NotFound, Conflict, ValidationFailed."""
    async with transaction(db):
        r = await db.get(Right, right_id, with_for_update=True, populate_existing=True)
        if r is None:
            raise NotFound("no such right", right_id=right_id)
        changes = body.model_dump(exclude_unset=True)
        for name in ("title", "description", "status", "per_user_limit"):
            if changes.get(name) is not None:
                setattr(r, name, changes[name])
        if "points_price" in changes:
            if changes["points_price"] is None and not free_for_tiers(r.kind):
                raise ValidationFailed(
                    "this kind is free for no tier: it needs a price", field="points_price"
                )
            r.points_price = changes["points_price"]
        if changes.get("available_until") is not None:
            if changes["available_until"] <= r.available_from:
                raise ValidationFailed(
                    "available_until must be after available_from", field="available_until"
                )
            r.available_until = changes["available_until"]
        if changes.get("stock_total") is not None:
            issued = r.stock_total - r.stock_left
            if changes["stock_total"] < issued:
                raise Conflict("the stock cannot go below what was issued", issued=issued, reason="issued")
            r.stock_left = changes["stock_total"] - issued
            r.stock_total = changes["stock_total"]
        r.updated_at = rt.clock.now()
    return admin_view(r)


async def admin_list(db: AsyncSession, *, limit: int, cursor: str | None) -> Page[RightAdmin]:
    """Every right, paused and past ones too, newest first."""
    before = decode_cursor(cursor, ID_CURSOR)
    q = select(Right)
    if before is not None:
        q = q.where(col(Right.id) < str(before))
    rows = list((await db.execute(q.order_by(col(Right.id).desc()).limit(limit + 1))).scalars())
    nxt = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return Page[RightAdmin](items=[admin_view(r) for r in rows[:limit]], next_cursor=nxt)


# -- members: the catalogue ----------------------------------------------------------------


def _open(r: Right, now: datetime) -> bool:
    return r.status == RightStatus.ACTIVE and r.available_from <= now < r.available_until


async def catalogue(
    db: AsyncSession, rt: Runtime, *, user_id: str, limit: int, cursor: str | None
) -> Page[RightPublic]:
    """The rights claimable now (active, within their window), newest first, each with
    what a claim would cost me and, when I may not claim it, why."""
    now = rt.clock.now()
    today = rt.clock.today()
    before = decode_cursor(cursor, ID_CURSOR)
    q = select(Right).where(
        Right.status == RightStatus.ACTIVE.value, Right.available_from <= now, Right.available_until > now
    )
    if before is not None:
        q = q.where(col(Right.id) < str(before))
    rows = list((await db.execute(q.order_by(col(Right.id).desc()).limit(limit + 1))).scalars())
    page = rows[:limit]
    tier = await tiers.tier_of(db, rt, user_id=user_id)
    balance = await points.live_balance(db, rt, user_id=user_id)
    usage = {
        (u.right_id, u.period): u.count
        for u in (
            await db.execute(
                select(RightUsage).where(
                    RightUsage.user_id == user_id, col(RightUsage.right_id).in_([r.id for r in page])
                )
            )
        ).scalars()
    }
    month = f"{today:%Y-%m}"
    free_used = set(
        (
            await db.execute(
                select(TierClaim.kind).where(TierClaim.user_id == user_id, TierClaim.month == month)
            )
        ).scalars()
    )
    items = []
    for r in page:
        used = usage.get((r.id, period_key(r.limit_period, today)), 0)
        free_for_me = r.kind in tier.monthly_rights and r.kind not in free_used
        price = 0 if free_for_me else r.points_price
        reason = None
        if r.tiers and tier.id not in r.tiers:
            reason = "tier"
        elif r.stock_left <= 0:
            reason = "sold_out"
        elif used >= r.per_user_limit:
            reason = "limit_reached"
        elif price is None:
            reason = "monthly_right_used" if r.kind in tier.monthly_rights else "tier"
        elif price > balance:
            reason = "insufficient_points"
        items.append(
            RightPublic(
                id=r.id,
                kind=r.kind,
                title=r.title,
                description=r.description,
                partner=r.partner,
                points_price=r.points_price,
                tiers=list(r.tiers),
                free_for_tiers=free_for_tiers(r.kind),
                stock_left=r.stock_left,
                per_user_limit=r.per_user_limit,
                limit_period=r.limit_period,
                voucher_valid_days=r.voucher_valid_days,
                available_until=r.available_until,
                my_price_points=price,
                free_for_me=free_for_me,
                claimed_in_period=used,
                claimable=reason is None,
                reason=reason,
            )
        )
    nxt = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return Page[RightPublic](items=items, next_cursor=nxt)


# -- members: claims, vouchers, refunds ------------------------------------------------------

_TAKE_USE = text(
    """
INSERT INTO rights_usage (user_id, right_id, period, count) VALUES (:user_id, :right_id, :period, 1)
ON CONFLICT (user_id, right_id, period) DO UPDATE SET count = rights_usage.count + 1
WHERE rights_usage.count < :limit
RETURNING count
"""
)
_TAKE_STOCK = text(
    """
UPDATE rights SET stock_left = stock_left - 1
WHERE id = :right_id AND stock_left > 0 AND status = 'active'
RETURNING stock_left
"""
)


async def claim(db: AsyncSession, rt: Runtime, *, user_id: str, right_id: str) -> VoucherPublic:
    """Claim a right: a voucher, free for my tier this month or paid in points (see the
    module docstring for the order). In the caller's transaction (the idempotency key's).
    Raises NotFound, Conflict (not available), Forbidden (tier), LimitExceeded
    (right_per_user, monthly_right_used), InsufficientFunds, SoldOut."""
    now = rt.clock.now()
    today = rt.clock.today()
    r = await db.get(Right, right_id)
    if r is None:
        raise NotFound("no such right", right_id=right_id)
    if not _open(r, now):
        raise Conflict("this right cannot be claimed now", right_id=right_id, reason="not_available")
    tier = await tiers.tier_of(db, rt, user_id=user_id)
    if r.tiers and tier.id not in r.tiers:
        raise Forbidden("this right is for other tiers", tiers=list(r.tiers), my_tier=tier.id, reason="tier")
    if r.stock_left <= 0:
        # Sold out as read now: refused before any write, so once a right runs out the
        # crowd is answered without spending (and rolling back) points or queueing on the
        # stock row. A stock above zero is only a hint: step 4 decides.
        raise SoldOut("this right is sold out", right_id=r.id)
    voucher_id = new_id("vc_")
    free_tier: str | None = None
    price = r.points_price
    if r.kind in tier.monthly_rights:
        took = await db.scalar(
            insert(TierClaim)
            .values(user_id=user_id, kind=r.kind, month=f"{today:%Y-%m}", voucher_id=voucher_id)
            .on_conflict_do_nothing()
            .returning(TierClaim.voucher_id)
        )
        if took is not None:
            free_tier, price = tier.id, 0
    if price is None:
        if r.kind in tier.monthly_rights:
            raise LimitExceeded(
                "this month's free right of this kind is used", limit="monthly_right_used", kind=r.kind
            )
        raise Forbidden("this right is only free for some tiers", tiers=free_for_tiers(r.kind), reason="tier")
    if price > 0:
        await points.spend(db, rt, user_id=user_id, points=price, ref=f"right:{voucher_id}", memo=r.title)
    period = period_key(r.limit_period, today)
    used = await db.scalar(
        _TAKE_USE, {"user_id": user_id, "right_id": r.id, "period": period, "limit": r.per_user_limit}
    )
    if used is None:
        raise LimitExceeded(
            "you hold as many of this right as a member may in this period",
            limit="right_per_user",
            per_user_limit=r.per_user_limit,
            period=r.limit_period,
        )
    v = Voucher(
        id=voucher_id,
        code=new_code(),
        user_id=user_id,
        right_id=r.id,
        state=VoucherState.ISSUED,
        paid_points=price,
        free_tier=free_tier,
        period=period,
        issued_at=now,
        expires_at=now + timedelta(days=r.voucher_valid_days),
    )
    db.add(v)
    await db.flush()

    async def take_stock() -> None:
        # The hot row, as the transaction's very last write (after the idempotency
        # record): its lock is held for the commit only. Sold out: everything rolls back.
        if await db.scalar(_TAKE_STOCK, {"right_id": right_id}) is None:
            raise SoldOut("this right is sold out", right_id=right_id)

    await last_in_transaction(db, take_stock)
    return voucher_view(v, r, now)


def voucher_view(v: Voucher, r: Right, now: datetime) -> VoucherPublic:
    return VoucherPublic(
        id=v.id,
        right_id=r.id,
        kind=r.kind,
        title=r.title,
        partner=r.partner,
        code=format_code(v.code),
        state=effective_state(v, now),
        paid_points=v.paid_points,
        free_tier=v.free_tier,
        issued_at=v.issued_at,
        expires_at=v.expires_at,
        redeemed_at=v.redeemed_at,
        closed_at=v.closed_at,
        qr_url=f"/v1/me/rights/{v.id}/qr.png",
    )


async def my_vouchers(
    db: AsyncSession,
    rt: Runtime,
    *,
    user_id: str,
    state: VoucherState | None,
    limit: int,
    cursor: str | None,
) -> Page[VoucherPublic]:
    """My vouchers, newest first (``state`` filters on the stored state)."""
    now = rt.clock.now()
    before = decode_cursor(cursor, ID_CURSOR)
    q = (
        select(Voucher, Right)
        .join(Right, col(Right.id) == Voucher.right_id)
        .where(Voucher.user_id == user_id)
    )
    if state is not None:
        q = q.where(Voucher.state == state.value)
    if before is not None:
        q = q.where(col(Voucher.id) < str(before))
    rows = (await db.execute(q.order_by(col(Voucher.id).desc()).limit(limit + 1))).all()
    nxt = encode_cursor(rows[limit - 1][0].id) if len(rows) > limit else None
    return Page[VoucherPublic](items=[voucher_view(v, r, now) for v, r in rows[:limit]], next_cursor=nxt)


async def my_voucher(db: AsyncSession, *, user_id: str, voucher_id: str) -> tuple[Voucher, Right]:
    """One of my vouchers (another member's is not found). Raises NotFound."""
    row = (
        await db.execute(
            select(Voucher, Right)
            .join(Right, col(Right.id) == Voucher.right_id)
            .where(Voucher.id == voucher_id, Voucher.user_id == user_id)
        )
    ).first()
    if row is None:
        raise NotFound("no such voucher of yours", voucher_id=voucher_id)
    return row[0], row[1]


def qr_png(v: Voucher) -> bytes:
    """The voucher's code as a QR code (PNG), for the merchant's scanner."""
    qr = qrcode.QRCode(box_size=8, border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(format_code(v.code))
    qr.make(fit=True)
    out = io.BytesIO()
    qr.make_image(fill_color="black", back_color="white").save(out)
    return out.getvalue()


async def refund(db: AsyncSession, rt: Runtime, *, user_id: str, voucher_id: str) -> VoucherPublic:
    """Give back an unused voucher before it expires: the month's free right, the points
    (restored to the lots they were drawn from), the claim in its period and the stock
    come back. Once: a second refund is a Conflict. Raises NotFound, Conflict, Expired."""
    now = rt.clock.now()
    async with transaction(db):
        v = (
            await db.execute(
                update(Voucher)
                .where(
                    Voucher.id == voucher_id,
                    Voucher.user_id == user_id,
                    Voucher.state == VoucherState.ISSUED.value,
                    Voucher.expires_at > now,
                )
                .values(state=VoucherState.REFUNDED.value, closed_at=now)
                .returning(Voucher)
            )
        ).scalar_one_or_none()
        if v is None:
            found, _ = await my_voucher(db, user_id=user_id, voucher_id=voucher_id)
            state = effective_state(found, now)
            if state == VoucherState.EXPIRED:
                raise Expired("the voucher has expired", voucher_id=voucher_id)
            raise Conflict(f"the voucher is {state.value}", voucher_id=voucher_id, reason=state.value)
        if v.free_tier is not None:
            await db.execute(TierClaim.__table__.delete().where(TierClaim.__table__.c.voucher_id == v.id))  # type: ignore[attr-defined]
        if v.paid_points > 0:
            await points.post_points(
                db,
                rt,
                user_id=user_id,
                kind="points_refunded",
                ref=f"right-refund:{v.id}",
                counter=ledger.POINTS_REDEEMED,
                amount=v.paid_points,
                restore=f"right:{v.id}",
                memo="voucher refunded",
            )
        await db.execute(
            update(RightUsage)
            .where(
                RightUsage.user_id == user_id,
                RightUsage.right_id == v.right_id,
                RightUsage.period == v.period,
                RightUsage.count > 0,
            )
            .values(count=RightUsage.count - 1)
        )
        await db.execute(update(Right).where(Right.id == v.right_id).values(stock_left=Right.stock_left + 1))
        r = await db.get(Right, v.right_id, populate_existing=True)
        assert r is not None
    return voucher_view(v, r, now)


# -- merchants (service token) -------------------------------------------------------------


async def _by_code(db: AsyncSession, typed: str) -> tuple[Voucher, Right]:
    code = normalise_code(typed)
    row = None
    if code is not None:
        row = (
            await db.execute(
                select(Voucher, Right)
                .join(Right, col(Right.id) == Voucher.right_id)
                .where(Voucher.code == code)
            )
        ).first()
    if row is None:
        raise NotFound("no voucher has this code")
    return row[0], row[1]


def check_view(v: Voucher, r: Right, now: datetime) -> VoucherCheck:
    state = effective_state(v, now)
    return VoucherCheck(
        voucher_id=v.id,
        right_id=r.id,
        kind=r.kind,
        title=r.title,
        partner=r.partner,
        state=state,
        redeemable=state == VoucherState.ISSUED,
        expires_at=v.expires_at,
        redeemed_at=v.redeemed_at,
        merchant_id=v.merchant_id,
    )


async def verify(db: AsyncSession, rt: Runtime, *, code: str) -> VoucherCheck:
    """What a code is (right, state, whether it may be redeemed now). Raises NotFound."""
    v, r = await _by_code(db, code)
    return check_view(v, r, rt.clock.now())


async def redeem(db: AsyncSession, rt: Runtime, *, code: str, merchant_id: str) -> VoucherCheck:
    """Redeem a code, exactly once (a conditional update: of two tills, one wins).
    Raises NotFound, Conflict (redeemed already, refunded), Expired."""
    now = rt.clock.now()
    normal = normalise_code(code)
    async with transaction(db):
        won = None
        if normal is not None:
            won = (
                await db.execute(
                    update(Voucher)
                    .where(
                        Voucher.code == normal,
                        Voucher.state == VoucherState.ISSUED.value,
                        Voucher.expires_at > now,
                    )
                    .values(
                        state=VoucherState.REDEEMED.value,
                        redeemed_at=now,
                        closed_at=now,
                        merchant_id=merchant_id,
                    )
                    .returning(Voucher.id)
                )
            ).scalar_one_or_none()
        v, r = await _by_code(db, code)
        if won is None:
            await db.refresh(v)
            state = effective_state(v, now)
            if state == VoucherState.EXPIRED:
                raise Expired("the voucher has expired", voucher_id=v.id)
            raise Conflict(f"the voucher is {state.value}", voucher_id=v.id, reason=state.value)
    return check_view(v, r, now)


# -- expiry (a periodic job) ---------------------------------------------------------------

_EXPIRE = text(
    """
UPDATE vouchers SET state = 'expired', closed_at = expires_at
WHERE id IN (
    SELECT id FROM vouchers WHERE state = 'issued' AND expires_at <= :now
    ORDER BY expires_at LIMIT :batch FOR UPDATE SKIP LOCKED
) AND state = 'issued'
RETURNING id
"""
)


async def expire_due(rt: Runtime, *, batch: int = 1000) -> int:
    """Job ``voucher_expiry``: close the issued vouchers past their expiry (their points
    stay spent, their stock used). Returns how many expired."""
    total = 0
    while True:
        async with rt.sessionmaker() as db, transaction(db):
            n = len((await db.execute(_EXPIRE, {"now": rt.clock.now(), "batch": batch})).all())
        total += n
        if n < batch:
            return total


async def export(db: AsyncSession, rt: Runtime, user_id: str) -> Any:
    """``GET /v1/me/export``: my vouchers."""
    now = rt.clock.now()
    rows = (
        await db.execute(
            select(Voucher, Right)
            .join(Right, col(Right.id) == Voucher.right_id)
            .where(Voucher.user_id == user_id)
            .order_by(col(Voucher.id))
        )
    ).all()
    return [voucher_view(v, r, now).model_dump(mode="json") for v, r in rows]


async def erase_personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> None:
    """``DELETE /v1/me``: the member's vouchers not used yet expire now (as at their
    expiry: their points stay spent, their stock used), so no code of a closed account can
    be redeemed; the vouchers themselves stay, pseudonymised, as the merchants' record."""
    now = rt.clock.now()
    await db.execute(
        update(Voucher)
        .where(col(Voucher.user_id) == user_id, col(Voucher.state) == VoucherState.ISSUED.value)
        .values(state=VoucherState.EXPIRED.value, closed_at=now)
    )
