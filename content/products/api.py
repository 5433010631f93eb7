"""Routes: the catalogue as a member sees it, admins' catalogue, clicks, and the bank's
conversion reports (service token)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from app.auth.service import Caller
from app.deps import CurrentUser, DbSession, Rt, ServiceCaller, require_role
from app.errors import Conflict, Forbidden, NotFound, Unauthenticated, ValidationFailed, documented
from app.pagination import Cursor, Limit, Page
from content.products import service as products
from content.products.models import Product
from content.products.schemas import (
    ClickIn,
    ClickPublic,
    ConversionIn,
    ConversionPublic,
    ProductAdmin,
    ProductCard,
    ProductIn,
    ProductUpdate,
)

router = APIRouter(tags=["products"])

Admin = Annotated[Caller, Depends(require_role("admin"))]
ProductIdPath = Annotated[str, Path(min_length=1, max_length=64)]
_ADMIN = (Unauthenticated(), Forbidden("requires role admin"))


def _admin(p: Product) -> ProductAdmin:
    return ProductAdmin(
        id=p.id,
        kind=str(p.kind),  # type: ignore[arg-type]
        name=p.name,
        issuer=p.issuer,
        summary=p.summary,
        risk_level=f"R{p.risk_level}",  # type: ignore[arg-type]
        compliance_text=p.compliance_text,
        link=p.link,
        status=str(p.status),  # type: ignore[arg-type]
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


@router.get(
    "/v1/products",
    response_model=Page[ProductCard],
    responses=documented(Unauthenticated(), ValidationFailed()),
)
async def list_products(
    user: CurrentUser,
    db: DbSession,
    kind: Annotated[Literal["deposit", "fund", "card", "insurance"] | None, Query()] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[ProductCard]:
    """The bank's products this member may see (risk level ≤ their risk assessment), lowest
    risk first."""
    found = await products.catalogue(
        db, risk_profile=user.risk_profile, kind=kind, limit=limit, cursor=cursor
    )
    return found.page(lambda c: c)


@router.get(
    "/v1/products/{product_id}",
    response_model=ProductCard,
    responses=documented(Unauthenticated(), NotFound()),
)
async def get_product(product_id: ProductIdPath, user: CurrentUser, db: DbSession) -> ProductCard:
    """One product's card for this member: the placeholder (`available: false`,
    `unavailable_reason: risk_profile`) when it is above their risk assessment, `withdrawn`
    when no longer offered."""
    found = await products.products_by_id(db, [product_id])
    if product_id not in found:
        raise NotFound("no such product", product_id=product_id)
    return products.card(found[product_id], product_id, user.risk_profile)


@router.post(
    "/v1/products/{product_id}/click",
    response_model=ClickPublic,
    status_code=201,
    responses=documented(
        Unauthenticated(),
        NotFound("no such product (or not one for you), or a post or message you cannot see"),
        ValidationFailed("a post and a message at once; the post or message does not show this product"),
    ),
)
async def click(
    product_id: ProductIdPath, body: ClickIn, user: CurrentUser, db: DbSession, rt: Rt
) -> ClickPublic:
    """A member tapped a product card: record where (`post_id` or `message_id`, and the
    `campaign`), so a purchase that follows within the attribution window is credited to
    the post, its author and the campaign. Answers where to take the member (`link`)."""
    return await products.click(db, rt, user=user, product_id=product_id, body=body)


@router.post(
    "/v1/bank/conversions",
    response_model=ConversionPublic,
    tags=["bank"],
    responses=documented(
        Unauthenticated("a valid service token is required"),
        NotFound("unknown member or product"),
        Conflict("another purchase was reported under this bank_ref"),
        ValidationFailed(),
    ),
)
async def conversion(body: ConversionIn, caller: ServiceCaller, db: DbSession, rt: Rt) -> ConversionPublic:
    """The bank reports a purchase of a product (service token), idempotent by its
    `bank_ref`: the first report is attributed to the member's last click on that product
    at or before the purchase within the attribution window (its post, the post's author
    or the message's sender, its campaign); a replay answers the same (`replay: true`)."""
    return await products.record_conversion(db, rt, body)


# -- admins ------------------------------------------------------------------------------------


@router.get(
    "/v1/admin/products",
    response_model=Page[ProductAdmin],
    tags=["admin"],
    responses=documented(*_ADMIN, ValidationFailed()),
)
async def admin_list(
    user: Admin,
    db: DbSession,
    status: Annotated[Literal["active", "withdrawn"] | None, Query()] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[ProductAdmin]:
    """Every product in the catalogue by id (admins)."""
    return (await products.all_products(db, status=status, limit=limit, cursor=cursor)).page(_admin)


@router.post(
    "/v1/admin/products",
    response_model=ProductAdmin,
    status_code=201,
    tags=["admin"],
    responses=documented(
        *_ADMIN,
        Conflict("a product with this id exists"),
        ValidationFailed("compliance text without the kind's required notice; a link outside the bank"),
    ),
)
async def admin_create(body: ProductIn, user: Admin, db: DbSession, rt: Rt) -> ProductAdmin:
    """Add a product. Its compliance text must include its kind's required notice
    (`details.required`), its link must point to the bank (as post links did)."""
    return _admin(await products.create(db, rt, body))


@router.get(
    "/v1/admin/products/{product_id}",
    response_model=ProductAdmin,
    tags=["admin"],
    responses=documented(*_ADMIN, NotFound()),
)
async def admin_get(product_id: ProductIdPath, user: Admin, db: DbSession) -> ProductAdmin:
    return _admin(await products.get(db, product_id))


@router.patch(
    "/v1/admin/products/{product_id}",
    response_model=ProductAdmin,
    tags=["admin"],
    responses=documented(*_ADMIN, NotFound(), ValidationFailed()),
)
async def admin_update(
    product_id: ProductIdPath, body: ProductUpdate, user: Admin, db: DbSession, rt: Rt
) -> ProductAdmin:
    """Change a product; `status: withdrawn` takes it off every card (placeholder)."""
    return _admin(await products.update(db, rt, product_id, body))


@router.delete(
    "/v1/admin/products/{product_id}",
    status_code=204,
    tags=["admin"],
    responses=documented(*_ADMIN, NotFound()),
)
async def admin_withdraw(product_id: ProductIdPath, user: Admin, db: DbSession, rt: Rt) -> Response:
    """Withdraw a product (kept for the clicks and conversions that name it)."""
    await products.withdraw(db, rt, product_id)
    return Response(status_code=204)
