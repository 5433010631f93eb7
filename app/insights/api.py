"""Routes: the bank's member attributes (service token) and a member's insights."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import CurrentUser, DbSession, Rt, ServiceCaller
from app.errors import Unauthenticated, ValidationFailed, documented
from app.insights import service as insights
from app.insights.schemas import InsightsPublic, MemberAttributesBatch, MemberAttributesResult

router = APIRouter(tags=["insights"])


@router.put(
    "/v1/bank/members/attributes",
    response_model=MemberAttributesResult,
    tags=["bank"],
    responses=documented(
        Unauthenticated("the service token is required"),
        ValidationFailed("an unknown asset class, or an allocation not summing to 10 000 basis points"),
    ),
)
async def member_attributes(
    body: MemberAttributesBatch, caller: ServiceCaller, db: DbSession, rt: Rt
) -> MemberAttributesResult:
    """What the bank knows of members for "users like you" (service token), up to 1 000 a
    batch: birth year, assets in fen, and for investors the allocation across asset
    classes in basis points (`{}`: no investments). A field left out keeps its value; an
    unknown member is counted, not stored. The risk level is the bank's risk assessment."""
    return await insights.set_attributes(db, rt, members=body.members)


@router.get("/v1/me/insights", response_model=InsightsPublic)
async def my_insights(user: CurrentUser, db: DbSession, rt: Rt) -> InsightsPublic:
    """ "Users like you": my cohort (age band × asset band × risk level, merged with its
    neighbours until it has at least k = 50 members) with the median and quartiles of its
    monthly savings rate and spending by category and, for investors, the 1- and 3-year
    return of its typical allocation, noised for differential privacy, each beside my own
    figure (from sources I consent to: wallet, card, investments). Computed nightly. Past
    returns do not predict future returns: every answer carries that notice."""
    return await insights.insights(db, rt, user_id=user.id)
