"""The product catalogue, who may see which product, and clicks and conversions.

- **Suitability** (适当性): a member assessed ``Cn`` (C1 保守型 … C5 进取型, the bank's
  risk assessment on ``users.risk_profile``) may see products of risk level ``Rm`` with
  ``m ≤ n``; a member without an assessment is treated as C1 (R1 products only). A card
  the member may not see is replaced by a placeholder (``render``); it never leaves the
  service with a name, text or link.
- **Attribution**: a conversion (the bank's purchase report) goes to the member's last
  click on that product at or before the purchase and within the attribution window
  (``content.attribution_window_h``); that click names the post, its author (or the chat
  message and its sender) and the campaign. Decided once, when first reported.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import service as auth
from app.db import transaction
from app.errors import Conflict, NotFound, ValidationFailed
from app.ids import new_id
from app.pagination import ID_CURSOR, OFFSET_CURSOR, Chunk, decode_cursor, encode_cursor
from app.runtime import Runtime
from app.types import RISK_PROFILES  # the bank's assessment, kept on the account
from content.config import content_settings
from content.posts import links
from content.products.models import Product, ProductClick, ProductConversion, ProductKind, ProductStatus
from content.products.schemas import (
    UNSUITABLE_TEXT,
    UNSUITABLE_TEXT_ZH,
    ClickIn,
    ClickPublic,
    ConversionIn,
    ConversionPublic,
    ProductCard,
    ProductIn,
    ProductUpdate,
)

# What each kind's compliance text must say (it may say more): the regulators' wording.
REQUIRED_NOTICE: dict[ProductKind, str] = {
    ProductKind.DEPOSIT: "存款保险",
    ProductKind.FUND: "基金有风险，投资需谨慎",
    ProductKind.CARD: "理性消费",
    ProductKind.INSURANCE: "保险责任",
}
# The topic (``content.posts.interests``) a product kind is about, for the feed.
KIND_TOPIC: dict[str, str] = {
    "deposit": "deposits",
    "fund": "funds",
    "card": "credit_cards",
    "insurance": "insurance",
}
ANY_RISK = "C5"  # how the one who embedded a card (a post's author, a message's sender) sees it


def member_level(risk_profile: str | None) -> int:
    """The highest product risk level (1–5) a member assessed ``risk_profile`` may see:
    C1→R1 … C5→R5; unassessed (or unknown) → R1."""
    if risk_profile in RISK_PROFILES:
        return int(risk_profile[1])  # type: ignore[index]
    return 1


def suitable(risk_level: int, risk_profile: str | None) -> bool:
    return risk_level <= member_level(risk_profile)


def _r(level: int) -> str:
    return f"R{level}"


def placeholder(product_id: str, reason: str) -> ProductCard:
    if reason == "risk_profile":
        return ProductCard(
            product_id=product_id,
            available=False,
            unavailable_reason="risk_profile",
            notice=UNSUITABLE_TEXT,
            notice_zh=UNSUITABLE_TEXT_ZH,
        )
    return ProductCard(
        product_id=product_id,
        available=False,
        unavailable_reason="withdrawn",
        notice="this product is no longer offered",
        notice_zh="该产品已下架",
    )


def card(product: Product | None, product_id: str, risk_profile: str | None) -> ProductCard:
    """The card of ``product`` for a member assessed ``risk_profile`` (or its placeholder)."""
    if product is None or product.status != ProductStatus.ACTIVE:
        return placeholder(product_id, "withdrawn")
    if not suitable(product.risk_level, risk_profile):
        return placeholder(product_id, "risk_profile")
    return ProductCard(
        product_id=product.id,
        kind=str(product.kind),  # type: ignore[arg-type]
        title=product.name,
        issuer=product.issuer,
        summary=product.summary,
        risk_level=_r(product.risk_level),  # type: ignore[arg-type]
        compliance_text=product.compliance_text,
        link=product.link,
    )


async def risk_profile_of(db: AsyncSession, viewer: Any) -> str | None:
    """The viewer's risk assessment: from the caller row when it carries one, else read."""
    if hasattr(viewer, "risk_profile"):
        return viewer.risk_profile  # type: ignore[no-any-return]
    found = await auth.profiles(db, [viewer.id])
    return found[viewer.id].risk_profile if viewer.id in found else None


_BY_IDS = select(Product).where(col(Product.id).in_(bindparam("ids", expanding=True)))


async def products_by_id(db: AsyncSession, ids: Iterable[str]) -> dict[str, Product]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await db.execute(_BY_IDS, {"ids": wanted})
    return {p.id: p for p in rows.scalars()}


async def render(db: AsyncSession, ids: Iterable[str], risk_profile: str | None) -> dict[str, ProductCard]:
    """The cards of ``ids`` for a member assessed ``risk_profile`` (one statement)."""
    wanted = set(ids)
    found = await products_by_id(db, wanted)
    return {i: card(found.get(i), i, risk_profile) for i in wanted}


async def suitable_ids(db: AsyncSession, risk_profile: str | None) -> dict[str, str]:
    """The active products a member may see: id → topic."""
    rows = await db.execute(
        select(Product.id, Product.kind).where(
            Product.status == ProductStatus.ACTIVE, col(Product.risk_level) <= member_level(risk_profile)
        )
    )
    return {i: KIND_TOPIC[str(k)] for i, k in rows.all()}


def card_values(cards: dict[str, ProductCard]) -> dict[str, dict[str, Any]]:
    """The cards as plain values, as they are serialised (for a response built without models)."""
    return {i: c.model_dump() for i, c in cards.items()}


async def topic_of(db: AsyncSession, ids: Iterable[str]) -> dict[str, str]:
    """The topic of each of these products (by kind)."""
    return {i: KIND_TOPIC[str(p.kind)] for i, p in (await products_by_id(db, ids)).items()}


# -- the catalogue (members) --------------------------------------------------------------------


async def catalogue(
    db: AsyncSession,
    *,
    risk_profile: str | None,
    kind: str | None,
    limit: int = 100,
    cursor: str | None = None,
) -> Chunk[ProductCard]:
    """The active products a member may see, lowest risk first (then by id), a page at a
    time. Raises ValidationFailed (bad cursor)."""
    pos = decode_cursor(cursor, OFFSET_CURSOR)
    offset = pos.o if pos is not None else 0
    q = select(Product).where(
        Product.status == ProductStatus.ACTIVE, col(Product.risk_level) <= member_level(risk_profile)
    )
    if kind:
        q = q.where(Product.kind == kind)
    q = q.order_by(col(Product.risk_level), col(Product.id)).offset(offset).limit(limit + 1)
    rows = list((await db.execute(q)).scalars())
    more = len(rows) > limit
    return Chunk(
        [card(p, p.id, risk_profile) for p in rows[:limit]],
        next_cursor=encode_cursor({"o": offset + limit}) if more else None,
    )


# -- the catalogue (admins) ---------------------------------------------------------------------


def _check(rt: Runtime, *, kind: str, compliance_text: str, link: str) -> None:
    notice = REQUIRED_NOTICE[ProductKind(kind)]
    if notice not in compliance_text:
        raise ValidationFailed(
            f"a {kind} product's compliance text must include {notice!r}",
            field="compliance_text",
            reason="compliance_text_incomplete",
            required=notice,
        )
    cs = content_settings(rt)
    problem = links.link_problem(link, hosts=cs.product_link_hosts, schemes=cs.product_link_schemes)
    if problem is not None:
        raise ValidationFailed(problem, field="link")


async def create(db: AsyncSession, rt: Runtime, body: ProductIn) -> Product:
    """Add a product. Raises ValidationFailed, Conflict (id taken)."""
    _check(rt, kind=body.kind, compliance_text=body.compliance_text, link=body.link)
    now = rt.clock.now()
    values = body.model_dump() | {
        "risk_level": int(body.risk_level[1]),
        "status": ProductStatus.ACTIVE.value,
        "created_at": now,
        "updated_at": now,
    }
    async with transaction(db):
        made = await db.execute(
            insert(Product).values(**values).on_conflict_do_nothing().returning(Product.id)
        )
        if made.scalar_one_or_none() is None:
            raise Conflict("a product with this id exists", product_id=body.id)
    return await get(db, body.id)


async def get(db: AsyncSession, product_id: str) -> Product:
    product = await db.get(Product, product_id)
    if product is None:
        raise NotFound("no such product", product_id=product_id)
    return product


async def all_products(
    db: AsyncSession, *, status: str | None, limit: int = 100, cursor: str | None = None
) -> Chunk[Product]:
    """Every product by id, a page at a time. Raises ValidationFailed (bad cursor)."""
    after = decode_cursor(cursor, ID_CURSOR)
    q = select(Product)
    if status:
        q = q.where(Product.status == status)
    if after is not None:
        q = q.where(col(Product.id) > after)
    rows = list((await db.execute(q.order_by(col(Product.id)).limit(limit + 1))).scalars())
    more = len(rows) > limit
    return Chunk(rows[:limit], next_cursor=encode_cursor(rows[limit - 1].id) if more else None)


async def update(db: AsyncSession, rt: Runtime, product_id: str, body: ProductUpdate) -> Product:
    """Change a product (withdraw it with ``status: withdrawn``). Raises NotFound, ValidationFailed."""
    async with transaction(db):
        product = await db.get(Product, product_id, with_for_update=True)
        if product is None:
            raise NotFound("no such product", product_id=product_id)
        given = body.model_dump(exclude_unset=True)
        if any(v is None for v in given.values()):
            raise ValidationFailed(
                "a field may not be null", field=next(k for k, v in given.items() if v is None)
            )
        for name, value in given.items():
            if name == "risk_level":
                product.risk_level = int(value[1])
            elif name == "status":
                product.status = ProductStatus(value)
            else:
                setattr(product, name, value)
        _check(rt, kind=str(product.kind), compliance_text=product.compliance_text, link=product.link)
        product.updated_at = rt.clock.now()
    return product


async def withdraw(db: AsyncSession, rt: Runtime, product_id: str) -> Product:
    return await update(db, rt, product_id, ProductUpdate(status="withdrawn"))


# -- where a card was tapped --------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """A post or a message that showed a product card, as the clicker may see it."""

    product_id: str | None  # the product it embeds (None: none)
    author_id: str


# (db, rt, viewer_id, id) → the context, or raise NotFound when the viewer cannot see it.
Resolver = Callable[[AsyncSession, Runtime, Any, str], Awaitable[Context]]
resolvers: dict[str, Resolver] = {}


def register_context(kind: str, resolver: Resolver) -> None:
    """Posts (``post``) and chat (``message``) tell how to find a card's context."""
    resolvers[kind] = resolver


async def click(db: AsyncSession, rt: Runtime, *, user: Any, product_id: str, body: ClickIn) -> ClickPublic:
    """Record a tap on a product card. Raises NotFound (no such product, or one the member
    may not see; a post or message they cannot see), ValidationFailed (both a post and a
    message; the post or message does not show this product)."""
    if body.post_id and body.message_id:
        raise ValidationFailed("a click comes from a post or a message, not both", field="message_id")
    risk = await risk_profile_of(db, user)
    product = await db.get(Product, product_id)
    if product is None or not card(product, product_id, risk).available:
        raise NotFound("no such product", product_id=product_id)
    author_id = None
    for kind, ref in (("post", body.post_id), ("message", body.message_id)):
        if ref is None:
            continue
        ctx = await resolvers[kind](db, rt, user, ref)
        if ctx.product_id != product_id:
            raise ValidationFailed(
                f"that {kind} does not show this product", field=f"{kind}_id", reason="product_mismatch"
            )
        author_id = ctx.author_id
    now = rt.clock.now()
    row = ProductClick(
        id=new_id("pc_"),
        user_id=user.id,
        product_id=product_id,
        post_id=body.post_id,
        message_id=body.message_id,
        campaign=body.campaign,
        author_id=author_id,
        clicked_at=now,
    )
    async with transaction(db):
        db.add(row)
    return ClickPublic(
        click_id=row.id,
        product_id=product_id,
        post_id=row.post_id,
        message_id=row.message_id,
        campaign=row.campaign,
        clicked_at=now,
        link=product.link,
    )


# -- conversions ---------------------------------------------------------------------------------

# Who is told when a conversion is credited to an author: (db, rt, author_id, at) → None,
# inside the unit of work (the creators board registers here).
on_conversion: list[Callable[[AsyncSession, Runtime, str, datetime], Awaitable[None]]] = []


def _public(row: ProductConversion, *, replay: bool) -> ConversionPublic:
    return ConversionPublic(
        bank_ref=row.bank_ref,
        user_id=row.user_id,
        product_id=row.product_id,
        amount_fen=row.amount_fen,
        occurred_at=row.occurred_at,
        recorded_at=row.recorded_at,
        attributed=row.click_id is not None,
        click_id=row.click_id,
        post_id=row.post_id,
        message_id=row.message_id,
        campaign=row.campaign,
        author_id=row.author_id,
        replay=replay,
    )


async def record_conversion(db: AsyncSession, rt: Runtime, body: ConversionIn) -> ConversionPublic:
    """The bank reports a purchase: attribute it to the member's last click on the product
    within the window, once per ``bank_ref`` (a replay answers the first outcome, a
    different report under the same reference is a Conflict). Raises NotFound (unknown
    member or product), Conflict."""
    window = timedelta(hours=content_settings(rt).attribution_window_h)
    async with transaction(db):
        known = await db.get(ProductConversion, body.bank_ref)
        if known is not None:
            same = (known.user_id, known.product_id, known.amount_fen, known.occurred_at) == (
                body.user_id,
                body.product_id,
                body.amount_fen,
                body.occurred_at,
            )
            if not same:
                raise Conflict("another conversion was reported under this bank_ref", bank_ref=body.bank_ref)
            return _public(known, replay=True)
        if await db.get(Product, body.product_id) is None:
            raise NotFound("no such product", product_id=body.product_id)
        if not await auth.profiles(db, [body.user_id]):
            raise NotFound("no such member", user_id=body.user_id)
        last = (
            await db.execute(
                select(ProductClick)
                .where(
                    ProductClick.user_id == body.user_id,
                    ProductClick.product_id == body.product_id,
                    col(ProductClick.clicked_at) <= body.occurred_at,
                    col(ProductClick.clicked_at) >= body.occurred_at - window,
                )
                .order_by(col(ProductClick.clicked_at).desc(), col(ProductClick.id).desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        now = rt.clock.now()
        values: dict[str, Any] = {
            "bank_ref": body.bank_ref,
            "user_id": body.user_id,
            "product_id": body.product_id,
            "amount_fen": body.amount_fen,
            "occurred_at": body.occurred_at,
            "recorded_at": now,
        }
        if last is not None:
            values |= {
                "click_id": last.id,
                "post_id": last.post_id,
                "message_id": last.message_id,
                "campaign": last.campaign,
                "author_id": last.author_id,
            }
        made = await db.execute(
            insert(ProductConversion)
            .values(**values)
            .on_conflict_do_nothing()
            .returning(ProductConversion.bank_ref)
        )
        won = made.scalar_one_or_none() is not None
        # A concurrent report of the same reference: the insert waited for it to commit
        # and did nothing; its row is visible to the next statement.
        row = await db.get(ProductConversion, body.bank_ref, populate_existing=True)
        assert row is not None
        if not won:
            if (row.user_id, row.product_id, row.amount_fen) != (
                body.user_id,
                body.product_id,
                body.amount_fen,
            ):
                raise Conflict("another conversion was reported under this bank_ref", bank_ref=body.bank_ref)
            return _public(row, replay=True)
        if row.author_id is not None and row.author_id != row.user_id:
            for hook in on_conversion:
                await hook(db, rt, row.author_id, body.occurred_at)
    return _public(row, replay=False)


async def credited_conversions(db: AsyncSession) -> list[tuple[str, datetime]]:
    """(author_id, occurred_at) of every conversion credited to an author (not their own
    purchase): the creators board's rebuild."""
    rows = await db.execute(
        select(ProductConversion.author_id, ProductConversion.occurred_at).where(
            col(ProductConversion.author_id).is_not(None),
            ProductConversion.author_id != ProductConversion.user_id,
        )
    )
    return [(a, at) for a, at in rows.all()]


async def conversion_counts(db: AsyncSession, post_ids: Iterable[str]) -> dict[str, int]:
    ids = sorted(set(post_ids))
    if not ids:
        return {}
    rows = await db.execute(
        select(ProductConversion.post_id, func.count())
        .where(col(ProductConversion.post_id).in_(ids))
        .group_by(ProductConversion.post_id)
    )
    return {p: n for p, n in rows.all()}


# -- a member's data ------------------------------------------------------------------------------


async def personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> dict[str, Any]:
    clicks = (await db.execute(select(ProductClick).where(ProductClick.user_id == user_id))).scalars()
    convs = (
        await db.execute(select(ProductConversion).where(ProductConversion.user_id == user_id))
    ).scalars()
    return {
        "product_clicks": [
            {
                "product_id": c.product_id,
                "post_id": c.post_id,
                "campaign": c.campaign,
                "clicked_at": c.clicked_at,
            }
            for c in clicks
        ],
        "product_conversions": [
            {
                "bank_ref": c.bank_ref,
                "product_id": c.product_id,
                "amount_fen": c.amount_fen,
                "at": c.occurred_at,
            }
            for c in convs
        ],
    }


async def erase_personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> None:
    """Clicks go (they only say what a member looked at); conversions stay — they credit an
    author and are the bank's record — but no longer name the member's clicks."""
    await db.execute(
        sql_update(ProductConversion).where(ProductConversion.user_id == user_id).values(click_id=None)
    )
    await db.execute(delete(ProductClick).where(ProductClick.user_id == user_id))
