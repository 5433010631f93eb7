"""Cross-scenario offers over HTTP: admins' rules, a member's offers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from app.auth.service import Caller
from app.deps import CurrentUser, DbSession, Rt, require_role
from app.errors import Forbidden, NotFound, Unauthenticated, ValidationFailed, documented
from app.offers import service as offers
from app.offers.schemas import OfferPublic, OfferRuleCreate, OfferRulePublic
from app.pagination import Cursor, Limit, Page

router = APIRouter(tags=["offers"])

Admin = Annotated[Caller, Depends(require_role("admin"))]
_ADMIN = (Unauthenticated(), Forbidden("requires role admin"))


@router.get("/v1/me/offers", response_model=Page[OfferPublic])
async def my_offers(
    user: CurrentUser, db: DbSession, limit: Limit = 20, cursor: Cursor = None
) -> Page[OfferPublic]:
    """Offers I received on one partner's app for what I did on another (with my consent
    to both), newest first."""
    return await offers.my_offers(db, user_id=user.id, limit=limit, cursor=cursor)


@router.post(
    "/v1/admin/offer-rules",
    status_code=201,
    response_model=OfferRulePublic,
    responses=documented(
        *_ADMIN,
        ValidationFailed("unknown scenario or event type, an attribute it lacks, the same scenario twice"),
    ),
)
async def create_rule(body: OfferRuleCreate, admin: Admin, db: DbSession, rt: Rt) -> OfferRulePublic:
    """Link a partner's event (scenario, type, attributes equal to `match`) to an offer on
    another partner's app: issued once per member, under the weekly cap."""
    return await offers.create_rule(db, rt, admin_id=admin.id, body=body)


@router.get("/v1/admin/offer-rules", response_model=Page[OfferRulePublic], responses=documented(*_ADMIN))
async def list_rules(
    admin: Admin, db: DbSession, limit: Limit = 20, cursor: Cursor = None
) -> Page[OfferRulePublic]:
    """Offer rules, newest first, with how many offers each issued."""
    return await offers.list_rules(db, limit=limit, cursor=cursor)


@router.delete(
    "/v1/admin/offer-rules/{rule_id}",
    status_code=204,
    response_class=Response,
    responses=documented(*_ADMIN, NotFound("no such offer rule", reason="unknown_offer_rule")),
)
async def deactivate_rule(
    rule_id: Annotated[str, Path(min_length=1, max_length=40)], admin: Admin, db: DbSession
) -> Response:
    """Stop issuing under a rule; offers already issued stay."""
    await offers.deactivate_rule(db, rule_id=rule_id)
    return Response(status_code=204)
