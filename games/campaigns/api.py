"""Card-payment campaigns over HTTP: the payment switch (service token), members, admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from app.auth.cards import REF_PATTERN
from app.auth.service import Caller
from app.deps import CurrentUser, DbSession, Rt, ServiceCaller, require_role
from app.errors import Conflict, Expired, Forbidden, NotFound, Unauthenticated, ValidationFailed, documented
from app.pagination import Cursor, Limit
from games.campaigns import service as campaigns
from games.campaigns.models import CampaignStatus
from games.campaigns.schemas import (
    BurnOut,
    CampaignAdmin,
    CampaignCreate,
    CampaignList,
    CampaignReport,
    CampaignSchedule,
    CaptureOut,
    MyCampaigns,
    QuoteIn,
    QuoteOut,
    RefundIn,
    RefundOut,
)

router = APIRouter()

Admin = Annotated[Caller, Depends(require_role("admin"))]
PaymentId = Annotated[str, Path(pattern=REF_PATTERN)]
CampaignId = Annotated[str, Path(min_length=1, max_length=40)]

_SERVICE = Unauthenticated("a valid service token is required")
_ADMIN = (Unauthenticated(), Forbidden("requires role admin"))


# -- the payment switch --------------------------------------------------------------------


@router.post(
    "/v1/payments/quote",
    response_model=QuoteOut,
    tags=["payments"],
    responses=documented(
        _SERVICE,
        NotFound("the card is unknown or not linked to that user", reason="unknown_card"),
        Conflict("this payment_id was quoted with other details"),
        ValidationFailed("bad amount, unknown MCC, unknown channel, malformed ids"),
    ),
)
async def quote(body: QuoteIn, caller: ServiceCaller, db: DbSession, rt: Rt) -> QuoteOut:
    """The bank's payment switch asks, while authorising a card payment, for the best
    campaign discount: it is held for the campaign's hold time (default 15 min) on the
    budget and on the cardholder's use. `discount_fen` 0 and `campaign_id` null when none
    applies. Idempotent by `payment_id`."""
    return await campaigns.quote(db, rt, q=body)


@router.post(
    "/v1/payments/{payment_id}/capture",
    response_model=CaptureOut,
    tags=["payments"],
    responses=documented(
        _SERVICE,
        NotFound("no such payment (never quoted)"),
        Expired("the discount's hold expired: quote the payment again"),
    ),
)
async def capture(payment_id: PaymentId, caller: ServiceCaller, db: DbSession, rt: Rt) -> CaptureOut:
    """The payment went through: the discount is booked (campaign budget → merchant
    settlement on the ledger) and the spending event recorded once (energy, points).
    A second capture answers the first."""
    return await campaigns.capture(db, rt, payment_id=payment_id)


@router.post(
    "/v1/payments/{payment_id}/refund",
    response_model=RefundOut,
    tags=["payments"],
    responses=documented(
        _SERVICE,
        NotFound("no such payment"),
        Conflict("not captured, already refunded in full, or the refund_id was used for another refund"),
        ValidationFailed("more than is left to refund"),
    ),
)
async def refund(
    payment_id: PaymentId, body: RefundIn, caller: ServiceCaller, db: DbSession, rt: Rt
) -> RefundOut:
    """Refund part or all of a captured payment, once per `refund_id` (a replay answers
    the first): the discount's share goes back to the campaign, and on a full refund the
    cardholder's use comes back when the campaign says so."""
    return await campaigns.refund(
        db, rt, payment_id=payment_id, refund_id=body.refund_id, amount_fen=body.amount_fen
    )


# -- members -------------------------------------------------------------------------------


@router.get(
    "/v1/campaigns", response_model=MyCampaigns, tags=["campaigns"], responses=documented(Unauthenticated())
)
async def my_campaigns(user: CurrentUser, db: DbSession, rt: Rt) -> MyCampaigns:
    """The running card-payment campaigns my cards may take part in, with `uses_left`:
    whether I may still get each (this campaign, or today)."""
    found = await campaigns.my_campaigns(db, rt, user_id=user.id)
    return MyCampaigns(items=[campaigns.member_view(e) for e in found])


# -- admin ---------------------------------------------------------------------------------


@router.post(
    "/v1/admin/campaigns",
    status_code=201,
    response_model=CampaignAdmin,
    tags=["campaigns admin"],
    responses=documented(*_ADMIN, ValidationFailed("inconsistent rule, budget or dates; unknown MCC")),
)
async def create_campaign(body: CampaignCreate, user: Admin, db: DbSession, rt: Rt) -> CampaignAdmin:
    """Create a campaign (a draft; schedule it to run). Its budget account is funded from
    the bank's rewards account."""
    c = await campaigns.create_campaign(db, rt, admin_id=user.id, body=body)
    return await campaigns.admin_view(db, rt, campaign_id=c.id)


@router.get(
    "/v1/admin/campaigns",
    response_model=CampaignList,
    tags=["campaigns admin"],
    responses=documented(*_ADMIN),
)
async def list_campaigns(
    user: Admin,
    db: DbSession,
    rt: Rt,
    status: Annotated[CampaignStatus | None, Query()] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> CampaignList:
    chunk = await campaigns.list_campaigns(db, status=status, limit=limit, cursor=cursor)
    return CampaignList(items=await campaigns.admin_views(db, rt, chunk.items), next_cursor=chunk.next_cursor)


@router.get(
    "/v1/admin/campaigns/{campaign_id}",
    response_model=CampaignAdmin,
    tags=["campaigns admin"],
    responses=documented(*_ADMIN, NotFound()),
)
async def get_campaign(campaign_id: CampaignId, user: Admin, db: DbSession, rt: Rt) -> CampaignAdmin:
    return await campaigns.admin_view(db, rt, campaign_id=campaign_id)


@router.post(
    "/v1/admin/campaigns/{campaign_id}/schedule",
    response_model=CampaignAdmin,
    tags=["campaigns admin"],
    responses=documented(*_ADMIN, NotFound(), Conflict("the campaign has ended"), ValidationFailed()),
)
async def schedule(
    campaign_id: CampaignId, user: Admin, db: DbSession, rt: Rt, body: CampaignSchedule | None = None
) -> CampaignAdmin:
    """Run a draft or paused campaign between its start and end (new ones may be given)."""
    body = body or CampaignSchedule()
    await campaigns.schedule(db, rt, campaign_id=campaign_id, starts_at=body.starts_at, ends_at=body.ends_at)
    return await campaigns.admin_view(db, rt, campaign_id=campaign_id)


@router.post(
    "/v1/admin/campaigns/{campaign_id}/pause",
    response_model=CampaignAdmin,
    tags=["campaigns admin"],
    responses=documented(*_ADMIN, NotFound(), Conflict("only a scheduled campaign can be paused")),
)
async def pause(campaign_id: CampaignId, user: Admin, db: DbSession, rt: Rt) -> CampaignAdmin:
    """Stop granting the campaign for now; `schedule` resumes it."""
    await campaigns.pause(db, rt, campaign_id=campaign_id)
    return await campaigns.admin_view(db, rt, campaign_id=campaign_id)


@router.post(
    "/v1/admin/campaigns/{campaign_id}/end",
    response_model=CampaignAdmin,
    tags=["campaigns admin"],
    responses=documented(*_ADMIN, NotFound(), Conflict("already ended")),
)
async def end(campaign_id: CampaignId, user: Admin, db: DbSession, rt: Rt) -> CampaignAdmin:
    """End the campaign for good (discounts already held may still be captured)."""
    await campaigns.end(db, rt, campaign_id=campaign_id)
    return await campaigns.admin_view(db, rt, campaign_id=campaign_id)


@router.get(
    "/v1/admin/campaigns/{campaign_id}/burn",
    response_model=BurnOut,
    tags=["campaigns admin"],
    responses=documented(*_ADMIN, NotFound(), ValidationFailed()),
)
async def burn(
    campaign_id: CampaignId,
    user: Admin,
    db: DbSession,
    rt: Rt,
    hours: Annotated[int, Query(ge=1, le=24 * 31)] = 24,
) -> BurnOut:
    """Budget burn per hour: discounts held by the quotes and paid by the captures of
    each of the last `hours` hours."""
    return await campaigns.burn(db, rt, campaign_id=campaign_id, hours=hours)


@router.get(
    "/v1/admin/campaigns/{campaign_id}/report",
    response_model=CampaignReport,
    tags=["campaigns admin"],
    responses=documented(*_ADMIN, NotFound()),
)
async def report(campaign_id: CampaignId, user: Admin, db: DbSession, rt: Rt) -> CampaignReport:
    """Payments, discount paid, unique cardholders, refunds and holds of a campaign, and the
    incremental spend: its cardholders' card spending during it against the same
    cardholders' in the period of the same length just before."""
    return await campaigns.report(db, rt, campaign_id=campaign_id)
