"""Domain errors and the one place that turns them into responses.

Services raise a ``QuanziError`` subclass; each carries the API's snake_case ``code``
and an HTTP status. ``install_handlers`` renders them as the error envelope
``{"error": {"code", "message", "details"}}``; the WebSocket gateway renders the same
errors as ``{"op": "error", ...}`` frames via ``error_frame``. Anything else is a bug:
logged with the request id, answered 500 without internals.

| class | code | status |
|---|---|---|
| Unauthenticated | unauthenticated | 401 |
| Forbidden | forbidden | 403 |
| NotFound | not_found | 404 |
| ValidationFailed | validation_error | 422 |
| Conflict | conflict | 409 |
| InsufficientFunds | insufficient_funds | 409 |
| LimitExceeded | limit_exceeded | 409 |
| InvalidCardToken | invalid_card_token | 422 |
| AlreadyClaimed | already_claimed | 409 |
| SoldOut | sold_out | 409 |
| Expired | expired | 410 |
| PayloadTooLarge | payload_too_large | 413 |
| RateLimited | rate_limited | 429 (+ Retry-After) |
| Unavailable | unavailable | 503 (+ Retry-After) |

A saturated database connection pool or an unreachable database (refused, reset,
shutting down: ``database_unreachable``) is answered ``unavailable`` (503 with
``Retry-After``), not 500: it is load or an outage, not a bug, and the request changed
nothing; the WebSocket gateway closes its connections with 1013 (try again later).
A body that cannot be read as JSON (invalid UTF-8, nested too deeply) is a
``validation_error`` like any other malformed JSON, never a bare 400.
"""

from __future__ import annotations

import errno
import json
import re
import socket
from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, Request, routing
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

log = structlog.get_logger()


class QuanziError(Exception):
    code = "error"
    status = 400
    default_message = "request failed"

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}

    def headers(self) -> dict[str, str]:
        return {}


class Unauthenticated(QuanziError):
    code, status, default_message = "unauthenticated", 401, "missing or invalid credentials"


class Forbidden(QuanziError):
    code, status, default_message = "forbidden", 403, "not allowed"


class NotFound(QuanziError):
    code, status, default_message = "not_found", 404, "not found"


class MethodNotAllowed(QuanziError):
    """The path exists, not with this method (``Allow`` lists the methods it has)."""

    code, status, default_message = "method_not_allowed", 405, "method not allowed"


class ValidationFailed(QuanziError):
    code, status, default_message = "validation_error", 422, "invalid request"


class Conflict(QuanziError):
    code, status, default_message = "conflict", 409, "conflict"


class InsufficientFunds(QuanziError):
    code, status, default_message = "insufficient_funds", 409, "insufficient funds"


class LimitExceeded(QuanziError):
    code, status, default_message = "limit_exceeded", 409, "limit exceeded"


class InvalidCardToken(QuanziError):
    """A card token the bank did not sign for this user, or one past its expiry."""

    code, status, default_message = "invalid_card_token", 422, "invalid card token"


class AlreadyClaimed(QuanziError):
    code, status, default_message = "already_claimed", 409, "already claimed"


class SoldOut(QuanziError):
    code, status, default_message = "sold_out", 409, "sold out"


class Expired(QuanziError):
    code, status, default_message = "expired", 410, "expired"


class PayloadTooLarge(QuanziError):
    code, status, default_message = "payload_too_large", 413, "payload too large"


class RateLimited(QuanziError):
    code, status, default_message = "rate_limited", 429, "too many requests"

    def __init__(self, message: str | None = None, *, retry_after: int = 1, **details: Any) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(message, retry_after=self.retry_after, **details)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class Unavailable(QuanziError):
    code, status, default_message = "unavailable", 503, "busy; retry shortly"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


# A domain error raised by the database's own functions (migration 1000, ``qz_raise``): the
# error code in HINT, its details as JSON in DETAIL, the message as is.
SQL_DOMAIN_ERROR = "QZ001"


def _by_code() -> dict[str, type[QuanziError]]:
    found: dict[str, type[QuanziError]] = {}
    pending: list[type[QuanziError]] = [QuanziError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    return found


def from_database(exc: BaseException) -> QuanziError | None:
    """The ``QuanziError`` a SQL function raised (SQLSTATE ``QZ001``, ``qz_raise``: the
    code in HINT, the details as JSON in DETAIL), or None for any other error. Looks down the chain of causes for the driver's error."""
    cause: BaseException | None = exc
    for _ in range(4):
        if cause is None:
            return None
        if getattr(cause, "sqlstate", None) == SQL_DOMAIN_ERROR and getattr(cause, "hint", None):
            cls = _by_code().get(str(cause.hint))  # type: ignore[attr-defined]
            if cls is None:  # a code no error class has: a bug, answered 500
                return None
            details = json.loads(getattr(cause, "detail", None) or "{}")
            return cls(str(getattr(cause, "message", "") or ""), **details)
        cause = cause.__cause__ or getattr(cause, "orig", None)
    return None


def error_response(exc: QuanziError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers())


def error_frame(exc: QuanziError, cid: str | None = None) -> dict[str, Any]:
    """The WebSocket rendering of a domain error."""
    return {"op": "error", "cid": cid, "code": exc.code, "message": exc.message, "details": exc.details}


_HTTP_CODES = {
    400: ValidationFailed,
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
}


def _json_safe_errors(errors: list[Any]) -> list[dict[str, Any]]:
    safe = []
    for err in errors:
        safe.append(
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "msg": str(err.get("msg", "")),
                "type": str(err.get("type", "")),
            }
        )
    return safe


def _allowed_methods(request: Request) -> list[str]:
    """Every method the request's path answers (Starlette's ``Allow`` names only the first
    route that matched the path). Where templates overlap, the most literal one names the
    resource: ``/v1/friends/requests`` is that template's methods, not also those of
    ``/v1/friends/{user_id}`` (as the OpenAPI document describes it)."""
    path = request.url.path
    matches = [
        (params, methods) for pattern, methods, params in _route_methods(request.app) if pattern.match(path)
    ]
    fewest = min((params for params, _ in matches), default=0)
    allowed = set().union(*(methods for params, methods in matches if params == fewest))
    return sorted(allowed - {"HEAD"})


def _route_methods(app: FastAPI) -> list[tuple[re.Pattern[str], set[str], int]]:
    found = getattr(app.state, "route_methods", None)
    if found is None:
        iter_contexts = getattr(routing, "iter_route_contexts", None)
        pairs = (
            [(ctx.path_format, ctx.original_route) for ctx in iter_contexts(app.routes)]
            if iter_contexts is not None
            else [(getattr(r, "path_format", ""), r) for r in app.routes]
        )
        found = [
            (compile_path(path)[0], set(route.methods or ()), path.count("{"))
            for path, route in pairs
            if isinstance(route, routing.APIRoute) and path
        ]
        app.state.route_methods = found
    return found  # type: ignore[no-any-return]


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(QuanziError)
    async def _domain(request: Request, exc: QuanziError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(
            ValidationFailed("invalid request", errors=_json_safe_errors(list(exc.errors())))
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        cls = _HTTP_CODES.get(exc.status_code)
        if exc.status_code == 400:  # FastAPI could not read the body (not UTF-8, too deep)
            err_400 = ValidationFailed(
                "the body is not valid JSON",
                errors=[{"loc": ["body"], "msg": str(exc.detail), "type": "json_invalid"}],
            )
            return error_response(err_400)
        if cls is None:
            err: QuanziError = QuanziError(str(exc.detail))
            err.status = exc.status_code
        else:
            err = cls(str(exc.detail) if exc.detail else None)
        response = error_response(err)
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(_allowed_methods(request))
        return response

    @app.exception_handler(PoolTimeout)
    async def _pool_timeout(request: Request, exc: PoolTimeout) -> JSONResponse:
        log.warning("db_pool_exhausted", path=request.url.path)
        return error_response(Unavailable())

    # The driver raises these when it cannot connect or loses the connection: SQLAlchemy
    # wraps some (DBAPIError) and lets others through (ConnectionRefusedError, asyncpg's).
    @app.exception_handler(DBAPIError)
    @app.exception_handler(OSError)
    @app.exception_handler(asyncpg.InterfaceError)
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        if database_unreachable(exc):
            log.warning("db_unreachable", path=request.url.path, error=repr(exc)[:200])
            return error_response(Unavailable())
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if database_unreachable(exc):  # also when raised outside a route (a middleware)
            log.warning("db_unreachable", path=request.url.path, error=repr(exc)[:200])
            return error_response(Unavailable())
        log.exception("unhandled_error", path=request.url.path)
        return JSONResponse(
            {"error": {"code": "internal_error", "message": "internal error", "details": {}}}, status_code=500
        )


def database_unreachable(exc: BaseException) -> bool:
    """The database refused or lost the connection (too many clients, shutting down,
    network, refused, reset, pool exhausted): a temporary 503, not a bug. SQLSTATE
    classes 08 (connection), 53 (insufficient resources), 57P (operator intervention),
    and the driver's own connection errors, looked for down the chain of causes."""
    cause: BaseException | None = exc
    for _ in range(8):  # asyncpg's error sits under SQLAlchemy's adapter error
        if cause is None:
            return False
        if isinstance(cause, DBAPIError) and cause.connection_invalidated:
            return True
        state = str(getattr(cause, "sqlstate", "") or "")
        if state.startswith(("08", "53", "57P")) or isinstance(cause, _CONNECTION_ERRORS):
            return True
        if isinstance(cause, asyncpg.InterfaceError) and "connection" in str(cause).lower():
            return True  # "connection is closed", "cannot perform operation: connection is closed"
        if isinstance(cause, OSError) and cause.errno in _NETWORK_ERRNOS:
            return True
        cause = cause.__cause__ or cause.__context__ or getattr(cause, "orig", None)
    return False


_CONNECTION_ERRORS = (
    ConnectionError,  # refused, reset, aborted, broken pipe
    TimeoutError,  # connect timeout
    socket.gaierror,  # the database host does not resolve
    PoolTimeout,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
)
_NETWORK_ERRNOS = {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT}


class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable, snake_case (the table in ``app/errors.py``)")
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorEnvelope(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


def documented(*errors: QuanziError) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for a route that may answer these errors: one entry per status,
    the envelope as its schema and each code with what causes it as its description."""
    by_status: dict[int, list[str]] = {}
    for err in errors:
        by_status.setdefault(err.status, []).append(f"`{err.code}`: {err.message}")
    return {
        status: {"model": ErrorEnvelope, "description": "; ".join(causes)}
        for status, causes in sorted(by_status.items())
    }
