"""Routes: partners' scenario events (service token), a member's consents, profile and
tags, and their data (export, erase)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from fastapi.responses import JSONResponse

from app.deps import CurrentUser, DbSession, Rt, ServiceCaller
from app.errors import NotFound, Unauthenticated, ValidationFailed, documented
from app.profile import data
from app.profile import service as profile
from app.profile.schemas import (
    ConsentsPublic,
    ConsentsUpdate,
    ProfilePublic,
    ScenarioBatchIn,
    ScenarioBatchResult,
)

router = APIRouter(tags=["profile"])


@router.post(
    "/v1/scenarios/events",
    response_model=ScenarioBatchResult,
    tags=["bank"],
    responses=documented(Unauthenticated("the service token is required"), ValidationFailed()),
)
async def scenario_events(
    body: ScenarioBatchIn, caller: ServiceCaller, db: DbSession, rt: Rt
) -> ScenarioBatchResult:
    """A partner's behaviour events (service token), up to 1 000 a batch, idempotent by
    ``event_id``. Each is checked against the scenario's registry of event types: one that
    does not fit is `rejected` with its `reason` and the rest are still taken. An event
    from a scenario the member has not consented to is dropped and counted (`no_consent`),
    never stored; so is one for an unknown member (a partner cannot probe who is ours)."""
    return await profile.ingest_events(db, rt, events=body.events)


@router.get("/v1/me/consents", response_model=ConsentsPublic)
async def my_consents(user: CurrentUser, db: DbSession) -> ConsentsPublic:
    """Every scenario (partners' apps and the bank's own card, games and content) with my
    choice; nothing is granted until I grant it."""
    return ConsentsPublic(items=await profile.consents(db, user_id=user.id))


@router.put(
    "/v1/me/consents",
    response_model=ConsentsPublic,
    responses=documented(ValidationFailed("unknown scenario, a scenario twice, or sharing without consent")),
)
async def set_my_consents(body: ConsentsUpdate, user: CurrentUser, db: DbSession, rt: Rt) -> ConsentsPublic:
    """Grant or withdraw consent per scenario, and whether my advisor may see the tags
    from it. Withdrawing deletes the scenario's events and every tag derived from it."""
    return ConsentsPublic(items=await profile.set_consents(db, rt, user_id=user.id, changes=body.consents))


@router.get("/v1/me/profile", response_model=ProfilePublic)
async def my_profile(user: CurrentUser, db: DbSession, rt: Rt) -> ProfilePublic:
    """Every tag held about me, its weight (decayed by the half-life) and why."""
    return await profile.profile(db, rt, user_id=user.id)


@router.delete(
    "/v1/me/profile/tags/{tag}",
    status_code=204,
    response_class=Response,
    responses=documented(NotFound("no such tag in your profile")),
)
async def remove_my_tag(
    tag: Annotated[str, Path(min_length=1, max_length=80)], user: CurrentUser, db: DbSession, rt: Rt
) -> Response:
    """Remove a tag from my profile; it is not derived again."""
    await profile.remove_tag(db, rt, user_id=user.id, tag=tag)
    return Response(status_code=204)


@router.get(
    "/v1/me/export",
    responses={
        200: {"description": "a JSON file: every section of my data", "content": {"application/json": {}}}
    },
)
async def export_me(user: CurrentUser, db: DbSession, rt: Rt) -> JSONResponse:
    """Download everything held about me as JSON: account and cards, consents, scenario
    events kept, tags and why, wallet ledger lines, messages I sent, my posts, comments,
    likes and follows, my game state."""
    body: dict[str, Any] = await data.export(db, rt, user_id=user.id)
    filename = f"quanzi-export-{user.id}.json"
    return JSONResponse(body, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.delete("/v1/me", status_code=204, response_class=Response)
async def erase_me(user: CurrentUser, db: DbSession, rt: Rt) -> Response:
    """Erase my account: my personal data is removed or pseudonymised, what is left in my
    wallet is returned to the bank, my sessions end. Ledger lines stay (balanced), and
    messages I sent stay readable to the other members, from 已注销用户."""
    await data.erase(db, rt, user_id=user.id)
    return Response(status_code=204)
