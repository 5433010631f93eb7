from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from app.auth import service as auth
from app.auth import sessions
from app.auth.models import User
from app.auth.schemas import (
    BankCardLink,
    BankCardPublic,
    CardLink,
    CardPublic,
    MePublic,
    MeUpdate,
    OtpRequest,
    OtpSent,
    PersonCard,
    RefreshRequest,
    TokenPublic,
    TokenRequest,
)
from app.deps import Authenticated, CurrentUser, DbSession, Rt, ServiceCaller
from app.errors import (
    Conflict,
    InvalidCardToken,
    NotFound,
    RateLimited,
    Unauthenticated,
    ValidationFailed,
    documented,
)
from app.proxy import client_address

router = APIRouter(tags=["auth"])


def _token_public(pair: sessions.TokenPair, user: User) -> TokenPublic:
    return TokenPublic(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        user=MePublic.of(user),
    )


@router.post(
    "/v1/auth/otp",
    status_code=202,
    response_model=OtpSent,
    responses=documented(
        RateLimited("too early for another code to this number, or the hourly cap per client")
    ),
)
async def request_otp(body: OtpRequest, request: Request, rt: Rt) -> OtpSent:
    """Send a login code to the phone. Sends to one number back off: 3 at once, then waits
    of 1, 2, 4 … minutes (at most an hour) between codes; too early is 429 `rate_limited`
    with `Retry-After` (seconds left). Per client address: an hourly cap."""
    code = await auth.request_code(rt, phone=body.phone, client_ip=client_address(request.scope))
    return OtpSent(dev_code=code)


@router.post(
    "/v1/auth/token",
    response_model=TokenPublic,
    responses=documented(
        Unauthenticated("wrong or expired code"), RateLimited("too many wrong codes from this client")
    ),
)
async def token(body: TokenRequest, request: Request, db: DbSession, rt: Rt) -> TokenPublic:
    """Log in with a one-time code: a new session's access token (short-lived) and refresh token.

    Wrong codes are counted per number and client address: after 5 a client gets 429
    `rate_limited` (with `Retry-After`) for that number, while the code stays good for others."""
    pair, user = await auth.login(
        db, rt, phone=body.phone, code=body.code, client_ip=client_address(request.scope)
    )
    return _token_public(pair, user)


@router.post(
    "/v1/auth/refresh",
    response_model=TokenPublic,
    responses=documented(Unauthenticated("unknown, spent (the family is revoked) or expired refresh token")),
)
async def refresh(body: RefreshRequest, db: DbSession, rt: Rt) -> TokenPublic:
    """Trade a refresh token for a new pair. Each refresh token works once; presenting a
    spent one revokes its whole session (401)."""
    pair, user = await sessions.refresh(db, rt, refresh_token=body.refresh_token)
    return _token_public(pair, user)


@router.post("/v1/auth/logout", status_code=204, response_class=Response)
async def logout(caller: Authenticated, db: DbSession, rt: Rt) -> Response:
    """End this session: its access and refresh tokens answer 401 at once and its
    WebSocket connections close (4401) on every worker."""
    if caller.session_id is not None:
        await sessions.end(db, rt, session_id=caller.session_id)
    return Response(status_code=204)


@router.get("/v1/me", response_model=MePublic)
async def me(user: CurrentUser) -> MePublic:
    return MePublic.of(user)


@router.patch("/v1/me", response_model=MePublic)
async def update_me(body: MeUpdate, user: CurrentUser, db: DbSession, rt: Rt) -> MePublic:
    """Change my display name or discoverability. A name is normalised (NFKC, invisible
    characters dropped); 422 `validation_error` with `details.reason`: `blank` (nothing
    visible), `control_characters`, or `reserved_name` (words such as 理财经理, 管理员,
    客服, 官方, admin, official are for staff, who carry a `badge`)."""
    updated = await auth.update_me(
        db, rt, user_id=user.id, display_name=body.display_name, discoverable=body.discoverable
    )
    return MePublic.of(updated)


@router.get(
    "/v1/users/{user_id}",
    response_model=PersonCard,
    responses=documented(NotFound("no such user, or not one I may see (as for an unknown id)")),
)
async def get_user(
    user_id: Annotated[str, Path(max_length=40)], user: CurrentUser, db: DbSession
) -> PersonCard:
    """A person's card: name, avatar and staff badge, what clients show next to a person.
    I see my own card, and anyone's who is in touch with me (friends, members of one of
    my conversations, my advisor or my clients) or discoverable; moderators and admins see
    everyone's. Someone hidden from me (not discoverable and a stranger) or blocked either
    way is 404 `not_found`, exactly like an unknown id."""
    return await auth.access_card(db, viewer=user, user_id=user_id)


@router.post(
    "/v1/me/cards",
    status_code=201,
    response_model=CardPublic,
    responses=documented(
        Conflict("the card is linked to another user", reason="card_linked_elsewhere"),
        InvalidCardToken("bad signature, another user's token, or expired"),
    ),
)
async def link_card(body: CardLink, user: CurrentUser, db: DbSession, rt: Rt) -> CardPublic:
    """Link the card of a token the bank signed for me (see ``shared/API.md``, Cards and
    funding); the first card makes me a cardholder."""
    card, updated = await auth.link_card(
        db, rt, user_id=user.id, card_token=body.card_token, last4=body.last4
    )
    return CardPublic(
        id=card.id, last4=card.last4, created_at=card.created_at, is_cardholder=updated.is_cardholder
    )


@router.post(
    "/v1/bank/cards",
    status_code=201,
    response_model=BankCardPublic,
    tags=["bank"],
    responses={
        200: {"model": BankCardPublic, "description": "this card was already linked to this user"},
        **documented(
            Unauthenticated("the service token is required"),
            NotFound("no such user"),
            Conflict("the card is linked to another user", reason="card_linked_elsewhere"),
            ValidationFailed(),
        ),
    },
)
async def bank_link_card(
    body: BankCardLink, caller: ServiceCaller, db: DbSession, rt: Rt, response: Response
) -> BankCardPublic:
    """The bank (service token) links a card to a user: 201, or 200 when this card was
    already linked to them; idempotent by ``card_ref``."""
    card, user, created = await auth.bank_link_card(
        db, rt, user_id=body.user_id, card_ref=body.card_ref, last4=body.last4, product=body.product
    )
    if not created:
        response.status_code = 200
    return BankCardPublic(
        id=card.id,
        user_id=card.user_id,
        card_ref=card.card_ref,
        last4=card.last4,
        product=card.product,
        created_at=card.created_at,
        is_cardholder=user.is_cardholder,
    )
