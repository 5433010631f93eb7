"""Points routes: my points and statement, my tier, partner programmes and exchanges."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.background import BackgroundTask

from app.deps import CurrentUser, DbSession, IdempotencyKey, Rt, ServiceCaller
from app.errors import (
    Conflict,
    InsufficientFunds,
    LimitExceeded,
    NotFound,
    Unauthenticated,
    ValidationFailed,
    documented,
)
from app.pagination import Cursor, Limit, Page
from games.points import exchange, tiers
from games.points import service as points
from games.points.schemas import (
    ExchangeIn,
    ExchangePublic,
    PartnerCancelIn,
    PartnerCancelPublic,
    PartnerLinkIn,
    PointsLine,
    PointsPublic,
    ProgrammePublic,
    TiersPublic,
)

router = APIRouter(tags=["points"])
_AUTH = documented(Unauthenticated("a user token is required"))


class ProgrammesPublic(BaseModel):
    items: list[ProgrammePublic]


@router.get("/v1/me/points", response_model=PointsPublic, responses=_AUTH)
async def my_points(user: CurrentUser, db: DbSession, rt: Rt) -> PointsPublic:
    """My spendable points, my lots (earliest-expiring first, the order they are spent in)
    with their expiry, what expires within the notice window, and points held for
    exchanges the partner has not confirmed yet."""
    return await points.my_points(db, rt, user_id=user.id)


@router.get("/v1/me/points/statement", response_model=Page[PointsLine], responses=_AUTH)
async def statement(
    user: CurrentUser, db: DbSession, limit: Limit = 20, cursor: Cursor = None
) -> Page[PointsLine]:
    """My points account's ledger lines (earned, spent, held, released, expired), newest first."""
    return await points.statement(db, user_id=user.id, limit=limit, cursor=cursor)


@router.get("/v1/me/tiers", response_model=TiersPublic, responses=_AUTH)
async def my_tiers(user: CurrentUser, db: DbSession, rt: Rt) -> TiersPublic:
    """My tier from the points earned in the rolling 12 months, the next tier, the day a
    downgrade would happen (after the grace period), and the partners' tiers mine matches."""
    return await tiers.my_tiers(db, rt, user_id=user.id)


@router.get("/v1/points/partners", response_model=ProgrammesPublic, responses=_AUTH)
async def list_programmes(user: CurrentUser, db: DbSession, rt: Rt) -> ProgrammesPublic:
    """The partner programmes: rates both ways, minimum, caps, and my member number."""
    return ProgrammesPublic(items=await exchange.programmes(db, rt, user_id=user.id))


@router.put(
    "/v1/me/partners/{programme_id}",
    response_model=ProgrammePublic,
    responses=documented(Unauthenticated(), NotFound("no such programme"), ValidationFailed()),
)
async def link_partner(
    programme_id: str, body: PartnerLinkIn, user: CurrentUser, db: DbSession, rt: Rt
) -> ProgrammePublic:
    """Record my membership number in a partner programme (tier match, exchanges)."""
    return await exchange.link(db, rt, user_id=user.id, programme_id=programme_id, member_no=body.member_no)


@router.post(
    "/v1/me/points/exchanges",
    status_code=202,
    response_model=ExchangePublic,
    responses=documented(
        Unauthenticated(),
        NotFound("no such programme"),
        Conflict(
            "no member number linked (reason not_linked) or the partner is not connected (not_connected)"
        ),
        InsufficientFunds("not enough points for an outbound exchange"),
        LimitExceeded(
            "the programme's daily or monthly cap per member (limit exchange_daily|exchange_monthly)"
        ),
        ValidationFailed("below the minimum, not a whole number of units, no Idempotency-Key"),
    ),
)
async def create_exchange(
    body: ExchangeIn, user: CurrentUser, db: DbSession, rt: Rt, idem: IdempotencyKey
) -> JSONResponse:
    """Exchange points with a partner programme (requires ``Idempotency-Key``).

    Answers 202 with the exchange as created, ``pending``: an outbound exchange holds my
    points at once. It is sent to the partner right after the answer; a confirmation
    settles it, a refusal releases the held points to the lots they came from, no answer
    (a timeout) sends it again later with the same key. ``GET`` it for the outcome."""
    response = await idem.run(
        db,
        rt,
        user_id=user.id,
        body=body,
        status_code=202,
        action=lambda: exchange.create(
            db, rt, user_id=user.id, programme_id=body.programme_id, direction=body.direction, pts=body.points
        ),
    )
    if response.status_code == 202 and response.headers.get("Idempotent-Replayed") is None:
        import json

        exchange_id = json.loads(bytes(response.body))["id"]
        response.background = BackgroundTask(exchange.deliver, rt, exchange_id=exchange_id)
    return response


@router.get("/v1/me/points/exchanges", response_model=Page[ExchangePublic], responses=_AUTH)
async def list_exchanges(
    user: CurrentUser, db: DbSession, limit: Limit = 20, cursor: Cursor = None
) -> Page[ExchangePublic]:
    return await exchange.list_mine(db, user_id=user.id, limit=limit, cursor=cursor)


@router.get(
    "/v1/me/points/exchanges/{exchange_id}",
    response_model=ExchangePublic,
    responses=documented(Unauthenticated(), NotFound("no such exchange of mine")),
)
async def get_exchange(exchange_id: str, user: CurrentUser, db: DbSession) -> ExchangePublic:
    return await exchange.access(db, user_id=user.id, exchange_id=exchange_id)


# -- the partners' side (through the bank's gateway, service token) ----------------------

ProgrammeId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_\-]+$")]
ExchangeId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_\-]+$")]


@router.post(
    "/v1/partners/{programme_id}/exchanges/{exchange_id}/cancel",
    response_model=PartnerCancelPublic,
    tags=["partners"],
    responses=documented(
        Unauthenticated("a valid service token is required"),
        NotFound("no such exchange with this programme"),
        Conflict(
            "refused (reason refused), cancelled under another partner_ref (already_cancelled), "
            "or a confirmed inbound exchange (inbound_confirmed)"
        ),
        ValidationFailed("malformed ids, partner_ref or reason"),
    ),
)
async def partner_cancels_exchange(
    programme_id: ProgrammeId, exchange_id: ExchangeId, body: PartnerCancelIn, caller: ServiceCaller, rt: Rt
) -> PartnerCancelPublic:
    """A partner programme reversed an exchange on its side (e.g. the member record was
    wrong). A confirmed outbound exchange returns the member's points once, as a new lot
    with the expiry of points credited today; a pending one releases the held points to
    the lots they came from and is no longer sent. Idempotent by ``partner_ref``: the same
    call again answers the first answer."""
    return await exchange.cancel_by_partner(
        rt,
        programme_id=programme_id,
        exchange_id=exchange_id,
        cancel_ref=body.partner_ref,
        reason=body.reason,
    )
