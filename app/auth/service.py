"""Users: login by one-time code, profile, cards, roles."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import hooks
from app.auth import otp, phones, tokens
from app.auth.models import ROLES, Card, User
from app.db import end_read, is_unique_violation, transaction
from app.errors import NotFound, Unauthenticated, ValidationFailed
from app.ids import new_id
from app.ledger import service as ledger
from app.runtime import Runtime


async def request_code(rt: Runtime, *, phone: str, client_ip: str) -> str | None:
    """Send a login code; returns it in dev/test. Raises ValidationFailed, RateLimited."""
    e164 = phones.require_e164(phone, rt.settings.default_phone_region)
    code = await otp.issue(
        rt,
        phone_hash=phones.phone_hash(e164, rt.settings.phone_hmac_key),
        phone_masked=phones.mask(e164),
        client_ip=client_ip,
    )
    return code if rt.settings.is_dev else None


async def login(db: AsyncSession, rt: Runtime, *, phone: str, code: str) -> tuple[str, User]:
    """Exchange a code for an access token; first login creates the user.

    Raises ValidationFailed, Unauthenticated, RateLimited."""
    e164 = phones.require_e164(phone, rt.settings.default_phone_region)
    digest = phones.phone_hash(e164, rt.settings.phone_hmac_key)
    await otp.check(rt, phone_hash=digest, code=code)
    user = await get_or_create_user(db, rt, e164=e164)
    return tokens.issue(rt.settings, user.id), user


async def get_user_by_phone(db: AsyncSession, rt: Runtime, phone: str) -> User | None:
    e164 = phones.require_e164(phone, rt.settings.default_phone_region)
    digest = phones.phone_hash(e164, rt.settings.phone_hmac_key)
    return (await db.execute(select(User).where(User.phone_hash == digest))).scalar_one_or_none()


async def get_or_create_user(
    db: AsyncSession, rt: Runtime, *, e164: str, display_name: str | None = None, roles: str = "user"
) -> User:
    """The user with this number, created (with an empty wallet) on first sight."""
    digest = phones.phone_hash(e164, rt.settings.phone_hmac_key)
    existing = (await db.execute(select(User).where(User.phone_hash == digest))).scalar_one_or_none()
    if existing is not None:
        await end_read(db)
        return existing
    now = rt.clock.now()
    user = User(
        id=new_id("u_"),
        phone_hash=digest,
        phone_masked=phones.mask(e164),
        display_name=display_name or f"用户{e164[-4:]}",
        roles=roles,
        created_at=now,
    )
    try:
        async with transaction(db):
            db.add(user)
            await db.flush()
            await ledger.open_account(
                db, account_id=ledger.wallet_account(user.id), kind="wallet", owner_id=user.id, now=now
            )
            await hooks.fire(hooks.on_user_created, db, rt, user.id)
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        # Two first logins raced; the other one created the user.
        found = (await db.execute(select(User).where(User.phone_hash == digest))).scalar_one()
        await end_read(db)
        return found
    return user


async def update_me(
    db: AsyncSession, *, user_id: str, display_name: str | None, discoverable: bool | None
) -> User:
    """Change the caller's profile. Raises NotFound."""
    async with transaction(db):
        user = await db.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("user not found")
        if display_name is not None:
            if not display_name.strip():
                raise ValidationFailed("display_name must not be blank", field="display_name")
            user.display_name = display_name.strip()
        if discoverable is not None:
            user.discoverable = discoverable
    return user


async def link_card(
    db: AsyncSession, rt: Runtime, *, user_id: str, card_token: str, last4: str
) -> tuple[Card, User]:
    """Link a bank card; the first card makes the user a cardholder (fires on_first_card).

    Linking the same card again returns the existing link. Locks the user row."""
    token_hash = hashlib.sha256(f"{rt.settings.secret_key}:{card_token}".encode()).hexdigest()
    async with transaction(db):
        user = await db.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("user not found")
        card = (
            await db.execute(select(Card).where(Card.user_id == user_id, Card.card_token_hash == token_hash))
        ).scalar_one_or_none()
        if card is None:
            card = Card(
                id=new_id("card_"),
                user_id=user_id,
                card_token_hash=token_hash,
                last4=last4,
                created_at=rt.clock.now(),
            )
            db.add(card)
            await db.flush()
        if not user.is_cardholder:
            user.is_cardholder = True
            await db.flush()
            await hooks.fire(hooks.on_first_card, db, rt, user_id)
    return card, user


async def grant_role(db: AsyncSession, rt: Runtime, *, phone: str, role: str) -> User:
    """Give a role to the user with this phone number. Raises ValidationFailed, NotFound."""
    if role not in ROLES:
        raise ValidationFailed(f"unknown role {role!r}", roles=list(ROLES))
    async with transaction(db):
        user = await get_user_by_phone(db, rt, phone)
        if user is None:
            raise NotFound("no user with that phone number")
        user.roles = ",".join(sorted(user.role_set | {role}))
    return user


async def verify_code(db: AsyncSession, rt: Runtime, *, phone: str, code: str) -> User:
    """Consume a login code and return the existing user with that number; unlike ``login``
    it creates no account (the staff consoles sign in with it).

    Raises ValidationFailed, Unauthenticated (wrong or expired code, no such user), RateLimited."""
    e164 = phones.require_e164(phone, rt.settings.default_phone_region)
    await otp.check(rt, phone_hash=phones.phone_hash(e164, rt.settings.phone_hmac_key), code=code)
    user = await get_user_by_phone(db, rt, e164)
    await end_read(db)
    if user is None:
        raise Unauthenticated("no account with that phone number")
    return user


async def set_bank_profile(
    db: AsyncSession,
    *,
    user_id: str,
    region: str | None = None,
    language: str | None = None,
    risk_profile: str | None = None,
) -> User:
    """Record what the bank knows of a customer (region, language, risk assessment C1–C5),
    which advisor matching and the advisor's client list use. Raises NotFound."""
    async with transaction(db):
        user = await db.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("user not found")
        if region is not None:
            user.region = region
        if language is not None:
            user.language = language
        if risk_profile is not None:
            user.risk_profile = risk_profile
    return user
