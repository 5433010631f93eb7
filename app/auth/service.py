"""Users: login by one-time code, profile, cards, roles.

Other features read users through this module, never through ``app.auth.models``: a
``Profile`` (what may be known of a user: never the phone hash) by id or in bulk, the
``Caller`` protocol for the user acting on a request, and ``profiles_sql()`` for a query
that must join users in one statement.

A person as clients render them is a ``PersonCard`` (``{id, display_name, avatar_url,
badge}``), made here only: ``card_of`` from a profile, ``person_cards`` for a list (one
statement for all the ids), ``cached_cards`` for the chat send path (a per-worker cache
of JSON cards, a few seconds old at most), and ``access_card`` for ``GET /v1/users/{id}``
(who may see whom: ``app.hooks.person_relations``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Row, Select, String, Subquery, any_, bindparam, delete, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import hooks
from app.auth import cards, names, otp, phones, sessions
from app.auth.models import ROLES, Card, SessionEnd, User
from app.auth.schemas import PersonCard
from app.db import end_read, execute, is_unique_violation, reads_alone, transaction
from app.errors import Conflict, NotFound, Unauthenticated, ValidationFailed
from app.ids import new_id
from app.ledger import service as ledger
from app.runtime import Runtime, Slot
from app.types import RISK_PROFILES


class Caller(Protocol):
    """The user a request acts for, as features see it (a ``User`` row or a ``Profile``)."""

    @property
    def id(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def avatar_url(self) -> str | None: ...
    @property
    def badge(self) -> names.Badge | None: ...
    def has_role(self, role: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Profile:
    """What other features may know of a user."""

    id: str
    display_name: str
    avatar_url: str | None
    roles: frozenset[str]
    is_cardholder: bool
    discoverable: bool
    region: str | None
    language: str
    risk_profile: str | None
    created_at: datetime
    last_active_at: datetime | None

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def badge(self) -> names.Badge | None:
        """The verified badge clients show next to this person (``app.auth.names``)."""
        return names.badge_of(self.roles)


_users = User.__table__  # type: ignore[attr-defined]
_PROFILE_COLUMNS = [
    _users.c[name]
    for name in (
        "id",
        "display_name",
        "avatar_url",
        "roles",
        "is_cardholder",
        "discoverable",
        "region",
        "language",
        "risk_profile",
        "created_at",
        "last_active_at",
    )
]


def badge_of_roles(roles: str) -> names.Badge | None:
    """The badge of a ``roles`` column value read through ``profiles_sql()``."""
    return names.badge_of(r for r in roles.split(",") if r)


def profiles_sql() -> Subquery:
    """The users' profile columns as a subquery named ``profiles`` (``id``, ``display_name``,
    ``avatar_url``, ``is_cardholder``, ``discoverable``, …), for a statement that must join
    users; PostgreSQL flattens it into a plain join."""
    return select(*_PROFILE_COLUMNS).subquery("profiles")


def members_sql() -> Subquery:
    """Members who are not erased, as a subquery named ``members`` (``id``,
    ``is_cardholder``, ``region``, ``risk_profile``): what an audience's rule may test."""
    return (
        select(_users.c.id, _users.c.is_cardholder, _users.c.region, _users.c.risk_profile)
        .where(_users.c.erased_at.is_(None))
        .subquery("members")
    )


def _profile(row: Row[Any]) -> Profile:
    m = row._mapping
    return Profile(
        id=m["id"],
        display_name=m["display_name"],
        avatar_url=m["avatar_url"],
        roles=frozenset(r for r in m["roles"].split(",") if r),
        is_cardholder=m["is_cardholder"],
        discoverable=m["discoverable"],
        region=m["region"],
        language=m["language"],
        risk_profile=m["risk_profile"],
        created_at=m["created_at"],
        last_active_at=m["last_active_at"],
    )


def _ids(user_ids: Iterable[str]) -> Any:
    return bindparam("ids", sorted(set(user_ids)), type_=ARRAY(String))


async def get_profile(db: AsyncSession, user_id: str) -> Profile | None:
    """The user's profile, or None."""
    row = (await db.execute(select(*_PROFILE_COLUMNS).where(_users.c.id == user_id))).first()
    return None if row is None else _profile(row)


async def user_exists(db: AsyncSession, user_id: str) -> bool:
    return await db.scalar(select(_users.c.id).where(_users.c.id == user_id)) is not None


async def profiles(db: AsyncSession, user_ids: Iterable[str]) -> dict[str, Profile]:
    """The profiles of those of ``user_ids`` who exist, by id (one statement)."""
    ids = _ids(user_ids)
    if not ids.value:
        return {}
    rows = await db.execute(select(*_PROFILE_COLUMNS).where(_users.c.id == any_(ids)))
    return {row.id: _profile(row) for row in rows}


def card_of(p: Caller) -> PersonCard:
    """The card of a person (a ``Profile``, a ``User`` row or the caller)."""
    return PersonCard(id=p.id, display_name=p.display_name, avatar_url=p.avatar_url, badge=p.badge)


async def person_cards(db: AsyncSession, user_ids: Iterable[str]) -> dict[str, PersonCard]:
    """The cards of those of ``user_ids`` who exist, by id (one statement for the list)."""
    return {uid: card_of(p) for uid, p in (await profiles(db, user_ids)).items()}


# Staff who see every card (an advisor sees their clients' through ``person_relations``).
_SEE_EVERYONE = ("moderator", "admin")


async def access_card(db: AsyncSession, *, viewer: Caller, user_id: str) -> PersonCard:
    """The card of ``user_id`` if ``viewer`` may see it: themself; anyone not blocked
    either way by moderators, admins and people in touch with them (friends, conversation
    co-members, advisor and client: ``app.hooks.person_relations``); a discoverable user
    by anyone else not blocked. Raises NotFound otherwise, as for an unknown id."""
    p = await get_profile(db, user_id)
    if p is not None and user_id != viewer.id:
        in_touch = False
        for relation in hooks.person_relations:
            said = await relation(db, viewer.id, user_id)
            if said is False:
                p = None
                break
            in_touch = in_touch or bool(said)
        if p is not None and not (
            p.discoverable or in_touch or any(viewer.has_role(r) for r in _SEE_EVERYONE)
        ):
            p = None
    await end_read(db)
    if p is None:
        raise NotFound("user not found", user_id=user_id)
    return card_of(p)


class CardCache:
    """A worker's recent cards as JSON objects, for payloads built on a hot path (the chat
    ``message`` frame's ``sender``): each kept ``CARD_CACHE_SECONDS`` (wall time), so a
    new name or avatar shows within that; the worker that changes a profile forgets it
    at once."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._cards: dict[str, tuple[float, dict[str, Any]]] = {}

    async def get_many(self, user_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        now = time.monotonic()
        found: dict[str, dict[str, Any]] = {}
        missing: set[str] = set()
        for uid in user_ids:
            kept = self._cards.get(uid)
            if kept is not None and kept[0] > now:
                found[uid] = kept[1]
            else:
                missing.add(uid)
        if missing:
            async with self.rt.sessionmaker() as db:
                loaded = await person_cards(await reads_alone(db), missing)
            if len(self._cards) > CARD_CACHE_MAX:
                self._cards = {k: v for k, v in self._cards.items() if v[0] > now}
                if len(self._cards) > CARD_CACHE_MAX:
                    self._cards.clear()
            for uid, card in loaded.items():
                found[uid] = card.model_dump(mode="json")
                self._cards[uid] = (now + CARD_CACHE_SECONDS, found[uid])
        return found

    def forget(self, user_id: str) -> None:
        self._cards.pop(user_id, None)


CARD_CACHE_SECONDS = 10.0
CARD_CACHE_MAX = 50_000
CARDS: Slot[CardCache] = Slot("auth.cards", CardCache)


async def cached_cards(rt: Runtime, user_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The cards (JSON objects) of those of ``user_ids`` who exist, from this worker's
    cache, loading the ones it lacks in one statement (its own session)."""
    return await rt.slot(CARDS).get_many(user_ids)


async def lock_profiles(db: AsyncSession, user_ids: Iterable[str]) -> dict[str, Profile]:
    """``profiles``, locking the users' rows (FOR UPDATE, in id order) until the caller's
    transaction ends: a use case that must not race on a user (a referral) holds them."""
    ids = _ids(user_ids)
    q = select(*_PROFILE_COLUMNS).where(_users.c.id == any_(ids)).order_by(_users.c.id).with_for_update()
    return {row.id: _profile(row) for row in await db.execute(q)}


async def lock_users_with_role(db: AsyncSession, role: str) -> list[Profile]:
    """Every user holding ``role``, by id, their rows locked (FOR UPDATE) until the caller's
    transaction ends (one advisor matcher at a time)."""
    q = select(*_PROFILE_COLUMNS).where(_users.c.roles.contains(role)).order_by(_users.c.id).with_for_update()
    return [p for p in map(_profile, await db.execute(q)) if p.has_role(role)]


async def cardholders_after(db: AsyncSession, *, after: str, limit: int, excluding: Any) -> list[Profile]:
    """Up to ``limit`` cardholders with ids above ``after``, by id, leaving out the ids that
    the subquery ``excluding`` selects."""
    q = (
        select(*_PROFILE_COLUMNS)
        .where(_users.c.is_cardholder.is_(True), _users.c.id.not_in(excluding), _users.c.id > after)
        .order_by(_users.c.id)
        .limit(limit)
    )
    return [_profile(row) for row in await db.execute(q)]


async def discoverable_cardholders(
    db: AsyncSession, phone_hashes: Iterable[str], *, except_id: str
) -> dict[str, Profile]:
    """Discoverable cardholders (other than ``except_id``) among the users stored under
    ``phone_hashes``, by phone hash (one statement, the hashes as one array parameter)."""
    wanted = bindparam("hashes", list(phone_hashes), type_=ARRAY(String))
    q = select(*_PROFILE_COLUMNS, _users.c.phone_hash).where(
        _users.c.phone_hash == any_(wanted),
        _users.c.is_cardholder.is_(True),
        _users.c.discoverable.is_(True),
        _users.c.id != except_id,
    )
    return {row.phone_hash: _profile(row) for row in await db.execute(q)}


async def phone_hashes(db: AsyncSession, user_ids: Any) -> set[str]:
    """The phone hashes of the users that the subquery ``user_ids`` selects (contact
    matching only)."""
    return set((await db.execute(select(_users.c.phone_hash).where(_users.c.id.in_(user_ids)))).scalars())


_TOUCH = (
    update(User)
    .where(
        User.id == bindparam("p_id"),
        or_(col(User.last_active_at).is_(None), col(User.last_active_at) <= bindparam("p_stale")),
    )
    .values(last_active_at=bindparam("p_now"))
)


# Users whose ``last_active_at`` this worker wrote, and when (business time). A user's
# requests in flight together all carry the row as authentication read it, so without this
# each would write it again (a red-packet storm: every grabber's first five grabs at once).
# Cleared when full: forgetting costs one conditional UPDATE, not a wrong value.
_TOUCHED: Slot[dict[str, datetime]] = Slot("auth.touched", lambda rt: {})
_TOUCHED_MAX = 100_000


def activity_due(rt: Runtime, user_id: str, last_active_at: datetime | None) -> bool:
    """Whether a user seen active now should have ``last_active_at`` written (the throttle:
    at most once per ``last_active_every_s``, counting this worker's own writes)."""
    now, every = rt.clock.now(), timedelta(seconds=rt.settings.last_active_every_s)
    written = rt.slot(_TOUCHED).get(user_id)
    return all(at is None or now - at >= every for at in (last_active_at, written))


async def note_activity(db: AsyncSession, rt: Runtime, *, user_id: str) -> None:
    """Record that the user is active now: ``users.last_active_at``, written at most once per
    ``last_active_every_s`` (a conditional UPDATE, autocommit, outside any use case)."""
    now = rt.clock.now()
    touched = rt.slot(_TOUCHED)
    if len(touched) >= _TOUCHED_MAX:
        touched.clear()
    touched[user_id] = now  # before the write: the user's other requests skip it
    stale = now - timedelta(seconds=rt.settings.last_active_every_s)
    conn = await db.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    await conn.execute(_TOUCH, {"p_id": user_id, "p_stale": stale, "p_now": now})
    await end_read(db)


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


async def login(
    db: AsyncSession, rt: Runtime, *, phone: str, code: str, client_ip: str
) -> tuple[sessions.TokenPair, User]:
    """Exchange a code for a new session's token pair; first login creates the user.

    Raises ValidationFailed, Unauthenticated, RateLimited (this client's wrong guesses)."""
    e164 = phones.require_e164(phone, rt.settings.default_phone_region)
    digest = phones.phone_hash(e164, rt.settings.phone_hmac_key)
    await otp.check(rt, phone_hash=digest, code=code, client=client_ip)
    user = await get_or_create_user(db, rt, e164=e164)
    return await sessions.start(db, rt, user_id=user.id), user


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


def check_display_name(rt: Runtime, name: str, *, roles: Iterable[str]) -> str:
    """The name as it would be stored (``app.auth.names.clean``). Raises ValidationFailed
    (``reason``: ``blank``, ``control_characters``, or ``reserved_name`` — a word only
    staff may use, for anyone without a badge)."""
    try:
        cleaned = names.clean(name)
    except names.BadName as exc:
        raise ValidationFailed(str(exc), field="display_name", reason=exc.reason) from exc
    if len(cleaned) > 64:
        raise ValidationFailed("display_name is longer than 64 characters", field="display_name")
    if names.badge_of(roles) is None:
        word = names.reserved_word(cleaned, rt.settings.reserved_name_words)
        if word is not None:
            raise ValidationFailed(
                f"{word!r} is reserved for bank staff",
                field="display_name",
                reason="reserved_name",
                word=word,
            )
    return cleaned


async def update_me(
    db: AsyncSession, rt: Runtime, *, user_id: str, display_name: str | None, discoverable: bool | None
) -> User:
    """Change the caller's profile. Raises NotFound, ValidationFailed (``check_display_name``)."""
    async with transaction(db):
        user = await db.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("user not found")
        if display_name is not None:
            user.display_name = check_display_name(rt, display_name, roles=user.role_set)
        if discoverable is not None:
            user.discoverable = discoverable
    rt.slot(CARDS).forget(user_id)
    return user


async def link_card(
    db: AsyncSession, rt: Runtime, *, user_id: str, card_token: str, last4: str
) -> tuple[Card, User]:
    """Link the card of a card token the bank signed for this user (``app.auth.cards``);
    the first card makes the user a cardholder (fires on_first_card). Linking the same
    card again returns the existing link. Locks the user row.

    Raises InvalidCardToken (bad signature, another user's, expired — by the business
    clock), Conflict (the card is another user's), NotFound."""
    claim = cards.verify(card_token, key=rt.settings.card_token_key, user_id=user_id, now=rt.clock.now())
    card, user, _ = await bank_link_card(db, rt, user_id=user_id, card_ref=claim.card_ref, last4=last4)
    return card, user


_cards = Card.__table__  # type: ignore[attr-defined]


async def bank_link_card(
    db: AsyncSession,
    rt: Runtime,
    *,
    user_id: str,
    card_ref: str,
    last4: str,
    product: str | None = None,
) -> tuple[Card, User, bool]:
    """Link the bank's card ``card_ref`` to a user, as the bank vouches (its own call, or a
    verified card token); the first card makes the user a cardholder (fires
    on_first_card, which pays a referrer). Idempotent by ``card_ref``: returns (card,
    user, created); a ``product`` given again replaces the card's product. Locks the user
    row. Raises NotFound (no such user), Conflict (the card is linked to another user)."""
    async with transaction(db):
        user = await db.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("user not found", user_id=user_id)
        values = {
            "id": new_id("card_"),
            "user_id": user_id,
            "card_ref": card_ref,
            "last4": last4,
            "product": product,
            "created_at": rt.clock.now(),
        }
        # A concurrent link of the same card waits here for the other one's commit.
        inserted = (
            await db.execute(
                pg_insert(_cards)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["card_ref"])
                .returning(_cards.c.id)
            )
        ).first()
        card = (
            await db.execute(
                select(Card).where(Card.card_ref == card_ref).execution_options(populate_existing=True)
            )
        ).scalar_one()
        if card.user_id != user_id:
            raise Conflict("this card is linked to another user", reason="card_linked_elsewhere")
        if product is not None and card.product != product:
            card.product = product
            await db.flush()
        if not user.is_cardholder:
            user.is_cardholder = True
            await db.flush()
            await hooks.fire(hooks.on_first_card, db, rt, user_id)
    return card, user, inserted is not None


@dataclass(frozen=True, slots=True)
class CardHolder:
    """Whose a linked card is, and the bank's product of it."""

    card_ref: str
    user_id: str
    product: str | None


_CARD_HOLDER = (
    select(_cards.c.card_ref, _cards.c.user_id, _cards.c.product)
    .where(_cards.c.card_ref == bindparam("card_ref"))
    .limit(1)
)


async def card_holder(db: AsyncSession, card_ref: str) -> CardHolder | None:
    """The linked card ``card_ref`` (one indexed read), or None when no user has it."""
    row = (await execute(db, _CARD_HOLDER, {"card_ref": card_ref})).first()
    return (
        None if row is None else CardHolder(card_ref=row.card_ref, user_id=row.user_id, product=row.product)
    )


async def card_products(db: AsyncSession, user_id: str) -> set[str | None]:
    """The products of a user's linked cards (None for a card the bank gave no product)."""
    rows = await db.execute(select(_cards.c.product).where(_cards.c.user_id == user_id))
    return set(rows.scalars())


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


async def verify_code(db: AsyncSession, rt: Runtime, *, phone: str, code: str, client_ip: str) -> Profile:
    """Consume a login code and return the existing user with that number; unlike ``login``
    it creates no account (the staff consoles sign in with it).

    Raises ValidationFailed, Unauthenticated (wrong or expired code, no such user), RateLimited."""
    e164 = phones.require_e164(phone, rt.settings.default_phone_region)
    await otp.check(
        rt, phone_hash=phones.phone_hash(e164, rt.settings.phone_hmac_key), code=code, client=client_ip
    )
    user = await get_user_by_phone(db, rt, e164)
    profile = await get_profile(db, user.id) if user is not None else None
    await end_read(db)
    if profile is None:
        raise Unauthenticated("no account with that phone number")
    return profile


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


async def set_risk_profiles(db: AsyncSession, levels: dict[str, str]) -> set[str]:
    """Record the bank's risk assessments (user id → ``RISK_PROFILES`` level) in the
    caller's transaction, one UPDATE per level; erased and unknown accounts are skipped.
    Returns the ids updated. Raises ValueError for a level outside ``RISK_PROFILES``."""
    by_level: dict[str, list[str]] = {}
    for user_id, level in levels.items():
        if level not in RISK_PROFILES:
            raise ValueError(f"not a risk profile: {level!r}")
        by_level.setdefault(level, []).append(user_id)
    done: set[str] = set()
    for level, ids in sorted(by_level.items()):
        rows = await db.execute(
            update(User)
            .where(col(User.id).in_(sorted(ids)), col(User.erased_at).is_(None))
            .values(risk_profile=level)
            .returning(col(User.id))
            .execution_options(synchronize_session=False)
        )
        done.update(rows.scalars())
    return done


async def live_ids(db: AsyncSession, user_ids: Iterable[str]) -> set[str]:
    """Those of ``user_ids`` that are accounts, not erased (one statement)."""
    ids = _ids(user_ids)
    if not ids.value:
        return set()
    rows = await db.execute(select(_users.c.id).where(_users.c.id == any_(ids), _users.c.erased_at.is_(None)))
    return set(rows.scalars())


async def users_with_any_role(db: AsyncSession, roles: Iterable[str]) -> list[Profile]:
    """Every user holding any of ``roles`` (staff lists: moderators to tell of new work)."""
    wanted = tuple(roles)
    q = select(*_PROFILE_COLUMNS).where(or_(*(_users.c.roles.contains(r) for r in wanted)))
    return [p for p in map(_profile, await db.execute(q)) if any(p.has_role(r) for r in wanted)]


def search_users_sql(rt: Runtime, q: str) -> Any:
    """SQL: the ids of users found by ``q``: in their name (case-insensitive, literally), by
    the last digits of their phone (up to four), or by their whole number."""
    text = q.strip()
    like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    conds = [_users.c.display_name.ilike(like, escape="\\")]
    if text.isdigit() and len(text) <= 4:
        conds.append(_users.c.phone_masked.endswith(text))
    e164 = phones.normalise(text, rt.settings.default_phone_region) if len(text) >= 7 else None
    if e164 is not None:
        conds.append(_users.c.phone_hash == phones.phone_hash(e164, rt.settings.phone_hmac_key))
    return select(_users.c.id).where(or_(*conds))


# -- a member's data (app/profile) --------------------------------------------------------

ERASED_NAME = "已注销用户"  # what others see where an erased member used to be


async def personal_data(db: AsyncSession, *, user_id: str) -> dict[str, Any]:
    """What the platform holds about a user: the account and linked cards (a member's
    export). The phone number itself is not held, only its keyed hash and a mask."""
    user = await db.get(User, user_id)
    if user is None:
        raise NotFound("user not found")
    cards = (
        await db.execute(select(Card).where(Card.user_id == user_id).order_by(Card.created_at))
    ).scalars()
    return {
        "account": {
            "id": user.id,
            "display_name": user.display_name,
            "phone_masked": user.phone_masked,
            "avatar_url": user.avatar_url,
            "roles": sorted(user.role_set),
            "is_cardholder": user.is_cardholder,
            "discoverable": user.discoverable,
            "region": user.region,
            "language": user.language,
            "risk_profile": user.risk_profile,
            "created_at": user.created_at.isoformat(),
            "last_active_at": user.last_active_at.isoformat() if user.last_active_at else None,
        },
        "cards": [{"id": c.id, "last4": c.last4, "created_at": c.created_at.isoformat()} for c in cards],
    }


async def erase_account(db: AsyncSession, rt: Runtime, *, user_id: str) -> None:
    """Pseudonymise the user row (inside the caller's transaction; locks it): no phone
    hash, name, avatar, region or risk profile any more; cards unlinked; every session
    ended and its sockets closed. The id stays so ledger lines and other members'
    histories still resolve (to ``ERASED_NAME``). Raises NotFound."""
    user = await db.get(User, user_id, with_for_update=True)
    if user is None or user.erased_at is not None:
        raise NotFound("user not found")
    await db.execute(delete(Card).where(Card.user_id == user_id))  # type: ignore[arg-type]
    user.phone_hash = f"erased:{user.id}"
    user.phone_masked = ""
    user.display_name = ERASED_NAME
    user.avatar_url = None
    user.roles = "user"
    user.is_cardholder = False
    user.discoverable = False
    user.region = None
    user.risk_profile = None
    user.erased_at = rt.clock.now()
    await db.flush()
    await sessions.end_all(db, rt, user_id=user_id, reason=SessionEnd.ERASED)


async def erased_ids(db: AsyncSession) -> set[str]:
    """Every erased account's id (few: what a rebuild from history leaves out)."""
    return set((await db.execute(select(_users.c.id).where(_users.c.erased_at.is_not(None)))).scalars())


def members_selectable() -> Select[Any]:
    """Every member not erased, as ``(user_id, risk_profile)``: a selectable other parts of
    the platform compose into set-based statements (the nightly insights job)."""
    return select(_users.c.id.label("user_id"), _users.c.risk_profile).where(_users.c.erased_at.is_(None))
