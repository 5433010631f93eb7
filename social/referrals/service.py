"""Referrals ("old brings new"): codes, redemption rules, and the reward.

Rules (settings): a user redeems one code, within ``referral_redeem_window_days`` of
signing up, before becoming a cardholder; never their own code, never one that would
close a cycle (A refers B refers A). The referrer is rewarded
``referral_reward_fen`` from the bank's rewards account when the referee first becomes a
cardholder (the ``on_first_card`` hook, in the card-linking transaction), at most
``referral_rewards_per_year`` times per business year. The ``referral_rewards`` row
(primary key: the referee) is inserted with ON CONFLICT DO NOTHING before any money
moves, so the reward is decided and paid exactly once however often the hook runs.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import hooks, urls
from app.auth import service as auth
from app.db import end_read, is_unique_violation, transaction
from app.errors import Conflict, Expired, NotFound, ValidationFailed
from app.ledger import service as ledger
from app.notifications.service import notify
from app.runtime import Runtime
from social.referrals import poster
from social.referrals.models import Referral, ReferralCode, ReferralReward, ReferralStatus

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud and typed by hand
CODE_LENGTH = 8
MAX_CHAIN = 10_000


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def share_url(rt: Runtime, code: str) -> str:
    return urls.absolute(rt.settings, f"/r/{code}")


async def get_or_create_code(db: AsyncSession, rt: Runtime, *, user_id: str) -> str:
    """My referral code, made on first use (own transaction)."""
    found = await db.scalar(select(ReferralCode.code).where(ReferralCode.user_id == user_id))
    if found is not None:
        await end_read(db)
        return found
    for _ in range(5):
        code = new_code()
        try:
            async with transaction(db):
                db.add(ReferralCode(user_id=user_id, code=code, created_at=rt.clock.now()))
            return code
        except IntegrityError as exc:
            if not (
                is_unique_violation(exc, "pk_referral_codes")
                or is_unique_violation(exc, "uq_referral_codes_code")
            ):
                raise
            # Either a concurrent call made my code, or the random code was taken.
            found = await db.scalar(select(ReferralCode.code).where(ReferralCode.user_id == user_id))
            await end_read(db)
            if found is not None:
                return found
    raise Conflict("could not allocate a referral code; try again")


@dataclass(frozen=True)
class Invited:
    user_id: str
    display_name: str
    badge: str | None
    redeemed_at: datetime
    status: ReferralStatus
    reward_fen: int


@dataclass(frozen=True)
class MyReferrals:
    code: str
    share_url: str
    invited: list[Invited]

    @property
    def rewards_fen(self) -> int:
        return sum(i.reward_fen for i in self.invited)


async def me(db: AsyncSession, rt: Runtime, *, user_id: str) -> MyReferrals:
    """My code, share URL, the users I invited and what I earned."""
    code = await get_or_create_code(db, rt, user_id=user_id)
    rows = (
        await db.execute(
            select(Referral, ReferralReward.amount_fen)
            .outerjoin(ReferralReward, ReferralReward.referee_id == Referral.referee_id)
            .where(Referral.referrer_id == user_id)
            .order_by(col(Referral.created_at).desc())
        )
    ).all()
    people = await auth.profiles(db, [r.referee_id for r, _ in rows])
    await end_read(db)
    invited = [
        Invited(
            user_id=r.referee_id,
            display_name=people[r.referee_id].display_name,
            badge=people[r.referee_id].badge,
            redeemed_at=r.created_at,
            status=r.status,
            reward_fen=int(amount or 0),
        )
        for r, amount in rows
        if r.referee_id in people
    ]
    return MyReferrals(code=code, share_url=share_url(rt, code), invited=invited)


@dataclass(frozen=True)
class Redeemed:
    referrer: auth.Profile
    status: ReferralStatus
    reward_fen: int  # what the referrer gets when the referee links a first card


async def redeem(db: AsyncSession, rt: Runtime, *, user_id: str, code: str) -> Redeemed:
    """Record that ``code``'s owner referred me. Locks both user rows (in id order).

    Raises NotFound (unknown code), ValidationFailed (my own code), Expired (signed up
    too long ago), Conflict (already referred, already a cardholder, or a cycle)."""
    wanted = code.strip().upper()
    now = rt.clock.now()
    try:
        async with transaction(db):
            owner = await db.scalar(select(ReferralCode.user_id).where(ReferralCode.code == wanted))
            if owner is None:
                raise NotFound("unknown referral code")
            if owner == user_id:
                raise ValidationFailed("you cannot redeem your own code", field="code")
            locked = await auth.lock_profiles(db, (owner, user_id))
            referee, referrer = locked.get(user_id), locked.get(owner)
            if referee is None or referrer is None:
                raise NotFound("user not found")
            if await db.get(Referral, user_id) is not None:
                raise Conflict("you have already redeemed a referral code")
            window = timedelta(days=rt.settings.referral_redeem_window_days)
            if now - referee.created_at > window:
                raise Expired(
                    f"codes can be redeemed within {window.days} days of signing up",
                    signed_up_at=referee.created_at.isoformat(),
                )
            if referee.is_cardholder:
                raise Conflict("referral codes are for new customers; you already hold a card")
            # No cycles: I must not be among the referrer's referrers.
            ancestor: str | None = owner
            for _ in range(MAX_CHAIN):
                ancestor = await db.scalar(
                    select(Referral.referrer_id).where(Referral.referee_id == ancestor)
                )
                if ancestor is None:
                    break
                if ancestor == user_id:
                    raise Conflict("this code would make a referral cycle")
            db.add(
                Referral(
                    referee_id=user_id,
                    referrer_id=owner,
                    code=wanted,
                    status=ReferralStatus.PENDING,
                    created_at=now,
                )
            )
            await db.flush()
            return Redeemed(
                referrer=referrer, status=ReferralStatus.PENDING, reward_fen=rt.settings.referral_reward_fen
            )
    except IntegrityError as exc:
        if not is_unique_violation(exc, "pk_referrals"):
            raise
        raise Conflict("you have already redeemed a referral code") from exc


async def reward_referrer(db: AsyncSession, rt: Runtime, user_id: str) -> None:
    """``on_first_card`` hook: reward ``user_id``'s referrer once, within the yearly cap.

    Runs in the card-linking transaction; locks the referrer's user row so the yearly
    count cannot be raced. The reward row's primary key decides "once"."""
    referral = await db.get(Referral, user_id)
    if referral is None or referral.status != ReferralStatus.PENDING:
        return
    now = rt.clock.now()
    year = rt.clock.local(now).year
    if not await auth.lock_profiles(db, [referral.referrer_id]):
        return
    paid = await db.scalar(
        select(func.count())
        .select_from(ReferralReward)
        .where(
            ReferralReward.referrer_id == referral.referrer_id,
            ReferralReward.year == year,
            ReferralReward.amount_fen > 0,
        )
    )
    amount = rt.settings.referral_reward_fen if int(paid or 0) < rt.settings.referral_rewards_per_year else 0
    inserted = await db.scalar(
        insert(ReferralReward)
        .values(
            referee_id=user_id,
            referrer_id=referral.referrer_id,
            year=year,
            amount_fen=amount,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["referee_id"])
        .returning(ReferralReward.referee_id)
    )
    if inserted is None:
        return  # decided already, by another transaction
    status = ReferralStatus.REWARDED if amount else ReferralStatus.CAPPED
    await db.execute(
        update(Referral)
        .where(Referral.referee_id == user_id, Referral.status == ReferralStatus.PENDING)
        .values(status=status)
    )
    # The referral converted: points for the referrer (games/points), whatever the cash cap.
    await hooks.fire_milestone(
        db, rt, hooks.Milestone(user_id=referral.referrer_id, kind="referral_converted", ref=user_id)
    )
    if not amount:
        return
    posted = await ledger.post(
        db,
        kind="referral_reward",
        entries=ledger.move(ledger.REWARDS, ledger.wallet_account(referral.referrer_id), amount),
        now=now,
        ref_id=user_id,
        memo="referral reward",
    )
    await db.execute(
        update(ReferralReward)
        .where(ReferralReward.referee_id == user_id)
        .values(transaction_id=posted.transaction_id)
    )
    referee = await auth.get_profile(db, user_id)
    await notify(
        db,
        rt,
        user_id=referral.referrer_id,
        kind="referral_reward",
        data={
            "amount_fen": amount,
            "referee_id": user_id,
            "display_name": referee.display_name if referee else "",
            "badge": referee.badge if referee else None,
        },
    )


async def poster_png(db: AsyncSession, rt: Runtime, *, user_id: str) -> bytes:
    """My share poster (rendered in a worker thread)."""
    code = await get_or_create_code(db, rt, user_id=user_id)
    me = await auth.get_profile(db, user_id)
    await end_read(db)
    return await _render_poster(rt, code, me.display_name if me else "")


async def _render_poster(rt: Runtime, code: str, inviter: str) -> bytes:
    url = share_url(rt, code)
    reward_yuan = rt.settings.referral_reward_fen // 100

    def _render() -> bytes:
        return poster.render(code=code, share_url=url, reward_yuan=reward_yuan, inviter=inviter)

    return await anyio.to_thread.run_sync(_render)


@dataclass(frozen=True)
class Landing:
    """What the public share page shows for a code."""

    code: str
    inviter: str  # the referrer's display name
    reward_yuan: int
    share_url: str
    redeem_days: int  # a new user redeems within this many days of signing up


async def landing(db: AsyncSession, rt: Runtime, *, code: str) -> Landing:
    """The public share page of a code (no login: the code is what was shared). Raises NotFound."""
    code = code.strip().upper()
    owner = (
        await db.scalar(select(ReferralCode.user_id).where(ReferralCode.code == code))
        if len(code) <= 16
        else None
    )
    profile = await auth.get_profile(db, owner) if owner else None
    await end_read(db)
    if profile is None:
        raise NotFound("no such referral code")
    return Landing(
        code,
        profile.display_name,
        rt.settings.referral_reward_fen // 100,
        share_url(rt, code),
        rt.settings.referral_redeem_window_days,
    )


async def landing_poster(db: AsyncSession, rt: Runtime, *, code: str) -> bytes:
    """The poster of a code, for the public share page. Raises NotFound."""
    page = await landing(db, rt, code=code)
    return await _render_poster(rt, page.code, page.inviter)
