"""Rights pool routes: the catalogue and claims (members), my vouchers and their QR code,
merchants' verify and redeem (service token), admins' catalogue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse, Response

from app.auth.service import Caller
from app.deps import CurrentUser, DbSession, IdempotencyKey, Rt, ServiceCaller, require_role
from app.errors import (
    Conflict,
    Expired,
    Forbidden,
    InsufficientFunds,
    LimitExceeded,
    NotFound,
    SoldOut,
    Unauthenticated,
    ValidationFailed,
    documented,
)
from app.pagination import Cursor, Limit, Page
from games.rights import service as rights
from games.rights.models import VoucherState
from games.rights.schemas import (
    CodeIn,
    RightAdmin,
    RightCreate,
    RightPatch,
    RightPublic,
    VoucherCheck,
    VoucherPublic,
)

router = APIRouter(tags=["rights"])

Admin = Annotated[Caller, Depends(require_role("admin"))]
RightId = Annotated[str, Path(min_length=1, max_length=40)]
VoucherId = Annotated[str, Path(min_length=1, max_length=40)]

_SERVICE = Unauthenticated("a valid service token is required")
_ADMIN = (Unauthenticated(), Forbidden("requires role admin"))


# -- members -------------------------------------------------------------------------------


@router.get("/v1/rights", response_model=Page[RightPublic], responses=documented(Unauthenticated()))
async def catalogue(
    user: CurrentUser, db: DbSession, rt: Rt, limit: Limit = 20, cursor: Cursor = None
) -> Page[RightPublic]:
    """The rights I may claim now, newest first: each with its price in points (or free
    for my tier this month), what is left in stock, how many I hold in the current period,
    and — when I may not claim it — why (`reason`)."""
    return await rights.catalogue(db, rt, user_id=user.id, limit=limit, cursor=cursor)


@router.post(
    "/v1/rights/{right_id}/claim",
    status_code=201,
    response_model=VoucherPublic,
    responses=documented(
        Unauthenticated(),
        NotFound("no such right"),
        Forbidden("the right is for other tiers, or only free for tiers I do not hold", reason="tier"),
        Conflict("the right is paused or outside its window", reason="not_available"),
        InsufficientFunds("not enough points for its price"),
        LimitExceeded(
            "my claims in its period (limit right_per_user) or this month's free tier right (monthly_right_used)"
        ),
        SoldOut("no stock left"),
        ValidationFailed("no Idempotency-Key"),
    ),
)
async def claim(
    right_id: RightId, user: CurrentUser, db: DbSession, rt: Rt, idem: IdempotencyKey
) -> JSONResponse:
    """Claim a right (requires `Idempotency-Key`: a retry answers the first claim): a
    voucher with an unguessable code, free when my tier's monthly rights list its kind and
    I have not taken that this month, else paid in points (earliest-expiring lots first)."""
    return await idem.run(
        db,
        rt,
        user_id=user.id,
        body=None,
        status_code=201,
        action=lambda: rights.claim(db, rt, user_id=user.id, right_id=right_id),
    )


@router.get("/v1/me/rights", response_model=Page[VoucherPublic], responses=documented(Unauthenticated()))
async def my_rights(
    user: CurrentUser,
    db: DbSession,
    rt: Rt,
    state: Annotated[VoucherState | None, Query()] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[VoucherPublic]:
    """My vouchers, newest first, with their code, state and expiry (`state` filters)."""
    return await rights.my_vouchers(db, rt, user_id=user.id, state=state, limit=limit, cursor=cursor)


@router.get(
    "/v1/me/rights/{voucher_id}",
    response_model=VoucherPublic,
    responses=documented(Unauthenticated(), NotFound("no such voucher of mine")),
)
async def my_right(voucher_id: VoucherId, user: CurrentUser, db: DbSession, rt: Rt) -> VoucherPublic:
    v, r = await rights.my_voucher(db, user_id=user.id, voucher_id=voucher_id)
    return rights.voucher_view(v, r, rt.clock.now())


@router.get(
    "/v1/me/rights/{voucher_id}/qr.png",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "the voucher's code as a QR code"},
        **documented(Unauthenticated(), NotFound("no such voucher of mine")),
    },
)
async def voucher_qr(voucher_id: VoucherId, user: CurrentUser, db: DbSession) -> Response:
    """My voucher's code as a QR code (PNG) to show at the till."""
    v, _ = await rights.my_voucher(db, user_id=user.id, voucher_id=voucher_id)
    return Response(rights.qr_png(v), media_type="image/png", headers={"Cache-Control": "private, no-store"})


@router.post(
    "/v1/me/rights/{voucher_id}/refund",
    response_model=VoucherPublic,
    responses=documented(
        Unauthenticated(),
        NotFound("no such voucher of mine"),
        Conflict("the voucher was redeemed or refunded already (reason redeemed|refunded)"),
        Expired("the voucher has expired"),
    ),
)
async def refund(voucher_id: VoucherId, user: CurrentUser, db: DbSession, rt: Rt) -> VoucherPublic:
    """Give back an unused voucher before it expires: its points come back to the lots
    they were spent from, the claim and the stock are returned (a free monthly right can
    be taken again). Once."""
    return await rights.refund(db, rt, user_id=user.id, voucher_id=voucher_id)


# -- merchants (service token) -------------------------------------------------------------


@router.post(
    "/v1/merchant/vouchers/verify",
    response_model=VoucherCheck,
    tags=["merchants"],
    responses=documented(_SERVICE, NotFound("no voucher has this code"), ValidationFailed("malformed code")),
)
async def verify(body: CodeIn, caller: ServiceCaller, db: DbSession, rt: Rt) -> VoucherCheck:
    """What a voucher code is and whether it may be redeemed now (the holder is not shown)."""
    return await rights.verify(db, rt, code=body.code)


@router.post(
    "/v1/merchant/vouchers/redeem",
    response_model=VoucherCheck,
    tags=["merchants"],
    responses=documented(
        _SERVICE,
        NotFound("no voucher has this code"),
        Conflict("redeemed already or refunded (reason redeemed|refunded)"),
        Expired("the voucher has expired"),
        ValidationFailed("malformed code or merchant_id"),
    ),
)
async def redeem(body: CodeIn, caller: ServiceCaller, db: DbSession, rt: Rt) -> VoucherCheck:
    """Redeem a voucher code, exactly once: of two tills that redeem one code, one gets 200
    and the other 409 `conflict` (reason `redeemed`)."""
    return await rights.redeem(db, rt, code=body.code, merchant_id=body.merchant_id)


# -- admin ---------------------------------------------------------------------------------


@router.get(
    "/v1/admin/rights", response_model=Page[RightAdmin], tags=["admin"], responses=documented(*_ADMIN)
)
async def list_rights(
    admin: Admin, db: DbSession, limit: Limit = 20, cursor: Cursor = None
) -> Page[RightAdmin]:
    """Every right of the catalogue, paused and past ones too, newest first."""
    return await rights.admin_list(db, limit=limit, cursor=cursor)


@router.post(
    "/v1/admin/rights",
    status_code=201,
    response_model=RightAdmin,
    tags=["admin"],
    responses=documented(*_ADMIN, ValidationFailed("bad window, unknown tiers, neither price nor free tier")),
)
async def create_right(body: RightCreate, admin: Admin, db: DbSession, rt: Rt) -> RightAdmin:
    """Add a right to the catalogue: kind, partner, points price (or free for the tiers
    whose monthly rights list its kind), eligible tiers, stock, per-member limit per
    period, voucher validity and the window it may be claimed in."""
    return await rights.create_right(db, rt, body=body)


@router.patch(
    "/v1/admin/rights/{right_id}",
    response_model=RightAdmin,
    tags=["admin"],
    responses=documented(
        *_ADMIN,
        NotFound("no such right"),
        Conflict("the stock would go below what was issued", reason="issued"),
        ValidationFailed(),
    ),
)
async def patch_right(right_id: RightId, body: RightPatch, admin: Admin, db: DbSession, rt: Rt) -> RightAdmin:
    """Change a right: pause or resume it (`status`), its title, price, limit, end of
    window, or total stock (never below what was issued)."""
    return await rights.patch_right(db, rt, right_id=right_id, body=body)
