from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from app.auth.service import Caller
from app.deps import CurrentUser, DbSession, Rt, require_role
from app.errors import NotFound, documented
from app.pagination import Cursor, Limit, Page
from app.profile.schemas import ProfilePublic
from social.advisors import service as advisors
from social.advisors.schemas import (
    AdvisorLoad,
    AdvisorProfileIn,
    AdvisorProfilePublic,
    AssignmentPublic,
    ClientActivity,
    ClientDetail,
    ClientSummary,
    ConversationRef,
    Inbox,
    MatchResult,
    MyAdvisorPublic,
    NoteIn,
    NotePublic,
    ProductShare,
    ReassignIn,
    SharedMessage,
)

router = APIRouter(tags=["advisors"])

Advisor = Annotated[Caller, Depends(require_role("advisor"))]
Admin = Annotated[Caller, Depends(require_role("admin"))]


@router.get(
    "/v1/me/advisor",
    response_model=MyAdvisorPublic,
    responses=documented(NotFound("no advisor is assigned to you yet")),
)
async def my_advisor(user: CurrentUser, db: DbSession, rt: Rt) -> MyAdvisorPublic:
    return MyAdvisorPublic.of(await advisors.my_advisor(db, rt, user_id=user.id))


Sort = Literal["id", "name", "last_active", "assigned"]
Text = Annotated[str | None, Query(max_length=64)]


@router.get("/v1/advisor/clients", response_model=Page[ClientSummary])
async def list_clients(
    user: Advisor,
    db: DbSession,
    rt: Rt,
    limit: Limit = 20,
    cursor: Cursor = None,
    q: Annotated[
        str | None, Query(max_length=64, description="name, last 4 phone digits, or the number")
    ] = None,
    risk_profile: Text = None,
    region: Text = None,
    sort: Sort = "id",
) -> Page[ClientSummary]:
    found = await advisors.clients(
        db,
        rt,
        advisor_id=user.id,
        limit=limit,
        cursor=cursor,
        q=q,
        risk_profile=risk_profile,
        region=region,
        sort=sort,
    )
    return found.page(ClientSummary.of)


@router.get("/v1/advisor/inbox", response_model=Inbox)
async def inbox(user: Advisor, db: DbSession) -> Inbox:
    """My clients' conversations with unread messages, with counts."""
    return Inbox.model_validate(await advisors.inbox(db, advisor_id=user.id))


@router.get("/v1/advisor/clients/{client_id}/notes", response_model=Page[NotePublic])
async def list_notes(
    client_id: str, user: Advisor, db: DbSession, limit: Limit = 20, cursor: Cursor = None
) -> Page[NotePublic]:
    found = await advisors.notes(db, advisor_id=user.id, client_id=client_id, limit=limit, cursor=cursor)
    return found.page(NotePublic.model_validate)


@router.post("/v1/advisor/clients/{client_id}/notes", response_model=NotePublic, status_code=201)
async def add_note(client_id: str, body: NoteIn, user: Advisor, db: DbSession, rt: Rt) -> NotePublic:
    """Keep a note on a client: visible to the client's advisors, never to the client."""
    note = await advisors.add_note(db, rt, advisor_id=user.id, client_id=client_id, text=body.text)
    return NotePublic.model_validate(note)


@router.post("/v1/advisor/clients/{client_id}/conversation", response_model=ConversationRef)
async def open_conversation(client_id: str, user: Advisor, db: DbSession, rt: Rt) -> ConversationRef:
    """My direct conversation with a client (opened now if new), to chat over ``/v1/ws``."""
    conv_id = await advisors.client_conversation(db, rt, advisor_id=user.id, client_id=client_id)
    return ConversationRef(conversation_id=conv_id)


@router.post("/v1/advisor/clients/{client_id}/products", response_model=SharedMessage, status_code=201)
async def share_product(
    client_id: str, body: ProductShare, user: Advisor, db: DbSession, rt: Rt
) -> SharedMessage:
    """Share a product of the catalogue, by id, into the chat with a client (a ``product``
    message, its card rendered from the catalogue). 422 ``reason: unsuitable`` when the
    product is above the client's risk profile, ``unknown_product`` when not offered."""
    shared = await advisors.share_product(
        db, rt, advisor_id=user.id, client_id=client_id, product_id=body.product_id
    )
    return SharedMessage.model_validate(shared)


@router.get("/v1/advisor/clients/{client_id}/activity", response_model=ClientActivity)
async def client_activity(client_id: str, user: Advisor, db: DbSession) -> ClientActivity:
    """A client's latest game and content activity."""
    return ClientActivity.model_validate(
        await advisors.client_activity(db, advisor_id=user.id, client_id=client_id)
    )


@router.get("/v1/advisor/clients/{client_id}/profile", response_model=ProfilePublic)
async def client_profile(client_id: str, user: Advisor, db: DbSession, rt: Rt) -> ProfilePublic:
    """My client's profile tags, only from the scenarios they chose to share with their
    advisor (``PUT /v1/me/consents``, ``share_with_advisor``)."""
    return await advisors.client_profile(db, rt, advisor_id=user.id, client_id=client_id)


@router.get("/v1/advisor/clients/{client_id}", response_model=ClientDetail)
async def get_client(client_id: str, user: Advisor, db: DbSession, rt: Rt) -> ClientDetail:
    return ClientDetail.of(await advisors.client_detail(db, rt, advisor_id=user.id, client_id=client_id))


@router.post("/v1/admin/advisors/match", response_model=MatchResult)
async def run_match(user: Admin, db: DbSession, rt: Rt) -> MatchResult:
    return MatchResult.model_validate(await advisors.match(db, rt))


@router.get("/v1/admin/advisors", response_model=Page[AdvisorLoad])
async def advisor_loads(user: Admin, db: DbSession, rt: Rt) -> Page[AdvisorLoad]:
    """Every advisor: capacity, fit settings and number of clients (one page)."""
    return Page(items=[AdvisorLoad.model_validate(a) for a in await advisors.overview(db, rt)])


@router.get("/v1/admin/advisors/assignments", response_model=Page[AssignmentPublic])
async def list_assignments(
    user: Admin,
    db: DbSession,
    limit: Limit = 20,
    cursor: Cursor = None,
    advisor_id: Annotated[str | None, Query(max_length=40)] = None,
) -> Page[AssignmentPublic]:
    found = await advisors.assignments(db, limit=limit, cursor=cursor, advisor_id=advisor_id)
    return found.page(AssignmentPublic.model_validate)


@router.put("/v1/admin/advisors/assignments/{client_id}", response_model=AssignmentPublic)
async def reassign(client_id: str, body: ReassignIn, user: Admin, db: DbSession, rt: Rt) -> AssignmentPublic:
    """Give a client to another advisor (within that advisor's capacity)."""
    return AssignmentPublic.model_validate(
        await advisors.reassign(db, rt, client_id=client_id, advisor_id=body.advisor_id)
    )


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
