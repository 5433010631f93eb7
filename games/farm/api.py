from __future__ import annotations

from fastapi import APIRouter

from app.deps import CurrentUser, DbSession, Rt
from app.errors import Conflict, InsufficientFunds, NotFound, documented
from games.farm import service as farm
from games.farm.schemas import (
    ChasePublic,
    DonateIn,
    DonatePublic,
    FarmPublic,
    FeedPublic,
    ProjectList,
    ProjectPublic,
    VisitPublic,
)

router = APIRouter(tags=["farm"])


@router.get("/v1/farm", response_model=FarmPublic)
async def get_farm(user: CurrentUser, db: DbSession, rt: Rt) -> FarmPublic:
    return FarmPublic.of(await farm.get_farm(db, rt, user_id=user.id))


@router.post(
    "/v1/farm/feed", response_model=FeedPublic, responses=documented(InsufficientFunds("not enough feed"))
)
async def feed(user: CurrentUser, db: DbSession, rt: Rt) -> FeedPublic:
    return FeedPublic.model_validate(await farm.feed(db, rt, user_id=user.id))


@router.post("/v1/farm/visit/{host_id}", response_model=VisitPublic)
async def visit(host_id: str, user: CurrentUser, db: DbSession, rt: Rt) -> VisitPublic:
    return VisitPublic(host_id=host_id, until=await farm.visit(db, rt, user_id=user.id, host_id=host_id))


@router.post(
    "/v1/farm/chase", response_model=ChasePublic, responses=documented(Conflict("no chicken is visiting"))
)
async def chase(user: CurrentUser, db: DbSession, rt: Rt) -> ChasePublic:
    return ChasePublic.model_validate(await farm.chase(db, rt, user_id=user.id))


@router.get("/v1/farm/projects", response_model=ProjectList)
async def projects(user: CurrentUser) -> ProjectList:
    return ProjectList(items=[ProjectPublic.model_validate(p) for p in farm.list_projects()])


@router.post(
    "/v1/farm/donate",
    response_model=DonatePublic,
    responses=documented(NotFound("no such project"), InsufficientFunds("not enough eggs")),
)
async def donate(body: DonateIn, user: CurrentUser, db: DbSession, rt: Rt) -> DonatePublic:
    donation, left = await farm.donate(db, rt, user_id=user.id, eggs=body.eggs, project_id=body.project_id)
    return DonatePublic.of(donation, eggs_left=left)
