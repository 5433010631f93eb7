from __future__ import annotations

from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Query, Request, Response

from app.deps import CurrentUser, DbSession, Rt
from app.errors import (
    AlreadyClaimed,
    Conflict,
    Expired,
    InsufficientFunds,
    LimitExceeded,
    NotFound,
    SoldOut,
    documented,
)
from games.forest import images
from games.forest import service as forest
from games.forest.schemas import (
    CollectPublic,
    ContributeIn,
    ForestPublic,
    FriendForestDetail,
    FriendsPublic,
    GroveIn,
    GrovePublic,
    PlantIn,
    PlantPublic,
    ProtectPublic,
    SpeciesList,
    SpeciesPublic,
    WaterIn,
    WaterPublic,
)

router = APIRouter(tags=["forest"])
PNG = {200: {"content": {"image/png": {}}, "description": "PNG image"}}


@router.get("/v1/forest", response_model=ForestPublic)
async def get_forest(user: CurrentUser, db: DbSession, rt: Rt) -> ForestPublic:
    return ForestPublic.of(await forest.get_forest(db, rt, user_id=user.id))


@router.post(
    "/v1/forest/balls/{ball_id}/collect",
    response_model=CollectPublic,
    responses=documented(
        Conflict("not ripe yet, or the forest is protected"), AlreadyClaimed(), SoldOut(), Expired()
    ),
)
async def collect(ball_id: str, user: CurrentUser, db: DbSession, rt: Rt) -> CollectPublic:
    return CollectPublic.model_validate(await forest.collect(db, rt, ball_id=ball_id, user_id=user.id))


@router.get("/v1/forest/friends", response_model=FriendsPublic)
async def friends(user: CurrentUser, db: DbSession, rt: Rt) -> FriendsPublic:
    return FriendsPublic.of(await forest.list_friends(db, rt, user_id=user.id))


@router.get(
    "/v1/forest/friends/{friend_id}",
    response_model=FriendForestDetail,
    responses={404: {"description": "no such user, or not my friend"}},
)
async def friend_forest(friend_id: str, user: CurrentUser, db: DbSession, rt: Rt) -> FriendForestDetail:
    """A friend's forest: their live balls with ids, what I may take from each now, their
    protection. Collect with ``POST /v1/forest/balls/{id}/collect``."""
    return FriendForestDetail.of(await forest.friend_forest(db, rt, user_id=user.id, friend_id=friend_id))


@router.post(
    "/v1/forest/friends/{friend_id}/water",
    response_model=WaterPublic,
    responses=documented(LimitExceeded("watered this friend enough today")),
)
async def water(friend_id: str, body: WaterIn, user: CurrentUser, db: DbSession, rt: Rt) -> WaterPublic:
    watered = await forest.water(db, rt, user_id=user.id, friend_id=friend_id, grams=body.grams)
    return WaterPublic.model_validate(watered)


@router.post(
    "/v1/forest/protect",
    response_model=ProtectPublic,
    responses=documented(Conflict("already protected"), InsufficientFunds("not enough energy")),
)
async def protect(user: CurrentUser, db: DbSession, rt: Rt) -> ProtectPublic:
    return ProtectPublic(protected_until=await forest.protect(db, rt, user_id=user.id))


@router.get("/v1/forest/species", response_model=SpeciesList)
async def species(user: CurrentUser) -> SpeciesList:
    return SpeciesList(items=[SpeciesPublic.model_validate(s) for s in forest.list_species()])


@router.post(
    "/v1/forest/plant",
    response_model=PlantPublic,
    responses=documented(NotFound("no such species"), InsufficientFunds("not enough energy")),
)
async def plant(body: PlantIn, user: CurrentUser, db: DbSession, rt: Rt) -> PlantPublic:
    return PlantPublic.of(await forest.plant(db, rt, user_id=user.id, species_id=body.species_id))


def _png(request: Request, tag: str, render: object, state: object) -> Response:
    headers = {"ETag": tag, "Cache-Control": "private, max-age=60"}
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers=headers)
    return Response(content=render, media_type="image/png", headers=headers)  # type: ignore[arg-type]


@router.get("/v1/forest/trees/{tree_id}/certificate.png", response_class=Response, responses=PNG)
async def certificate(tree_id: str, request: Request, user: CurrentUser, db: DbSession, rt: Rt) -> Response:
    state = await forest.certificate_state(db, rt, user_id=user.id, tree_id=tree_id)
    tag = images.etag(state)
    if request.headers.get("if-none-match") == tag:
        return _png(request, tag, b"", state)
    data = await anyio.to_thread.run_sync(images.render_certificate, state)
    return _png(request, tag, data, state)


@router.get("/v1/forest/widget.png", response_class=Response, responses=PNG)
async def widget(
    request: Request,
    user: CurrentUser,
    db: DbSession,
    rt: Rt,
    scale: Annotated[int, Query(ge=1, le=3, description="1 (480×240), 2 (@2x) or 3 (@3x)")] = 1,
    theme: Annotated[Literal["light", "dark"], Query()] = "light",
) -> Response:
    """My forest as a home-screen widget: the growing tree by stage, ripe and ripening
    energy balls, today's energy. Cached by what it shows: send the ETag back in
    If-None-Match and get 304 while nothing changed."""
    state = await forest.widget_state(db, rt, user_id=user.id, scale=scale, theme=theme)
    tag = images.etag(state)
    if request.headers.get("if-none-match") == tag:
        return _png(request, tag, b"", state)
    data = await anyio.to_thread.run_sync(images.render_widget, state)
    return _png(request, tag, data, state)


@router.post(
    "/v1/forest/groves",
    response_model=GrovePublic,
    status_code=201,
    responses=documented(NotFound("no such species")),
)
async def create_grove(body: GroveIn, user: CurrentUser, db: DbSession, rt: Rt) -> GrovePublic:
    return GrovePublic.of(await forest.create_grove(db, rt, user_id=user.id, species_id=body.species_id))


@router.get("/v1/forest/groves/{grove_id}", response_model=GrovePublic)
async def get_grove(grove_id: str, user: CurrentUser, db: DbSession) -> GrovePublic:
    return GrovePublic.of(await forest.access_grove(db, user_id=user.id, grove_id=grove_id))


@router.post("/v1/forest/groves/{grove_id}/contribute", response_model=GrovePublic)
async def contribute(
    grove_id: str, body: ContributeIn, user: CurrentUser, db: DbSession, rt: Rt
) -> GrovePublic:
    grove, given = await forest.contribute(db, rt, user_id=user.id, grove_id=grove_id, grams=body.grams)
    return GrovePublic.of(grove, contributed=given)
