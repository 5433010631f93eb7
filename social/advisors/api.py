from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from app.auth.service import Caller
from app.deps import CurrentUser, DbSession, Rt, require_role
from app.pagination import Cursor, Limit, Page
from social.advisors import service as advisors
from social.advisors.schemas import (
    AdvisorProfileIn,
    AdvisorProfilePublic,
    ClientDetail,
    ClientSummary,
    MatchResult,
    MyAdvisorPublic,
)

router = APIRouter(tags=["advisors"])

Advisor = Annotated[Caller, Depends(require_role("advisor"))]
Admin = Annotated[Caller, Depends(require_role("admin"))]


@router.get("/v1/me/advisor", response_model=MyAdvisorPublic)
async def my_advisor(user: CurrentUser, db: DbSession, rt: Rt) -> MyAdvisorPublic:
    return MyAdvisorPublic.of(await advisors.my_advisor(db, rt, user_id=user.id))


@router.get("/v1/advisor/clients", response_model=Page[ClientSummary])
async def list_clients(
    user: Advisor, db: DbSession, rt: Rt, limit: Limit = 20, cursor: Cursor = None
) -> Page[ClientSummary]:
    found = await advisors.clients(db, rt, advisor_id=user.id, limit=limit, cursor=cursor)
    return found.page(ClientSummary.of)


@router.get("/v1/advisor/clients/{client_id}", response_model=ClientDetail)
async def get_client(client_id: str, user: Advisor, db: DbSession, rt: Rt) -> ClientDetail:
    return ClientDetail.of(await advisors.client_detail(db, rt, advisor_id=user.id, client_id=client_id))


@router.post("/v1/admin/advisors/match", response_model=MatchResult)
async def run_match(user: Admin, db: DbSession, rt: Rt) -> MatchResult:
    return MatchResult.model_validate(await advisors.match(db, rt))


@router.put("/v1/admin/advisors/{advisor_id}", response_model=AdvisorProfilePublic)
async def set_profile(
    advisor_id: str, body: AdvisorProfileIn, user: Admin, db: DbSession
) -> AdvisorProfilePublic:
    await advisors.set_profile(
        db,
        advisor_id=advisor_id,
        capacity=body.capacity,
        regions=body.regions,
        languages=body.languages,
        risk_profiles=body.risk_profiles,
    )
    return AdvisorProfilePublic(advisor_id=advisor_id, **body.model_dump())
