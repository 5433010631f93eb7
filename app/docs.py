"""The OpenAPI document and the interactive docs (``/openapi.json``, ``/docs``, ``/redoc``),
served behind ``app.exposure.guard("docs")``.

The pages work without internet (a bank intranet, a headless browser): Swagger UI's and
ReDoc's scripts, stylesheet and favicon are served by the service itself from
``/docs/assets/…``, read from the installed ``fastapi-offline`` package (PyPI; never
copied into this repository). No page loads anything from a CDN or Google Fonts.

``/asyncapi.yaml`` describes the WebSocket protocol (``app/realtime/asyncapi.py``; the
same file is committed as docs/asyncapi.yaml), under the same exposure rule.

The document describes errors as they are served: every operation's 422 is the error
envelope (``ErrorEnvelope``, not FastAPI's ``{"detail": …}``), an operation with a body
may answer 413 ``payload_too_large`` (``app/inputguard.py``), and any operation may
answer 503 ``unavailable`` with ``Retry-After`` when the database is unreachable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import Depends, FastAPI, routing
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute

from app.config import Settings
from app.errors import ErrorEnvelope, NotFound
from app.exposure import guard

ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/docs/assets"
# The only files served from ASSETS_DIR (no path from the request reaches the filesystem).
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}


# What each error status means (API.md, Conventions): the description of a status that an
# operation's dependencies imply and its route did not document (``app.errors.documented``).
ERROR_MEANINGS: dict[int, str] = {
    401: "unauthenticated: no valid token",
    403: "forbidden: not allowed for this caller",
    404: "not_found: no such resource (or not visible to the caller)",
    409: "conflict, insufficient_funds, limit_exceeded, already_claimed or sold_out",
    410: "expired: too late for this action",
    413: "payload_too_large: the body is above the limit",
    422: "validation_error: the request is invalid",
    429: "rate_limited: slow down; retry after Retry-After seconds",
    503: "unavailable: the database is unreachable; retry",
}
_RETRY_AFTER = {429, 503}


def _error_response(status: int, description: str | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description or ERROR_MEANINGS[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
    }
    if status in _RETRY_AFTER:
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
    return response


def _calls(dependant: Any) -> set[str]:
    """The qualified names of every dependency a route runs (recursively)."""
    found: set[str] = set()
    for dep in dependant.dependencies:
        if dep.call is not None:
            found.add(getattr(dep.call, "__qualname__", ""))
        found |= _calls(dep)
    return found


def _implied_errors(route: APIRoute) -> set[int]:
    """The error statuses a route's dependencies and path make possible."""
    calls = _calls(route.dependant)
    statuses: set[int] = set()
    if {"get_caller", "get_service_caller"} & calls:
        statuses.add(401)
    if any(name.startswith("require_role.") for name in calls):
        statuses.add(403)
    if "get_idempotent" in calls:
        statuses.add(409)  # the same key with another body
    if route.dependant.path_params:
        statuses.add(404)
    return statuses


def _api_routes(app: FastAPI) -> list[tuple[str, APIRoute]]:
    """(full path, route) of every API route, through included routers."""
    iter_contexts = getattr(routing, "iter_route_contexts", None)
    if iter_contexts is None:  # FastAPI before included routers were kept lazily
        return [(r.path_format, r) for r in app.routes if isinstance(r, APIRoute)]
    return [
        (ctx.path_format, ctx.original_route)
        for ctx in iter_contexts(app.routes)
        if isinstance(ctx.original_route, APIRoute)
    ]


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` describe errors as served (see the module doc): every error
    status an operation may answer, with the ``ErrorEnvelope`` schema; ``Idempotency-Key``
    required where leaving it out is a 422."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas["ErrorEnvelope"] = ErrorEnvelope.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        schemas.update(schemas["ErrorEnvelope"].pop("$defs", {}))
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        for schema in schemas.values():  # uploads: "format: binary" too, which generators read as a file
            for prop in schema.get("properties", {}).values():
                if prop.get("contentMediaType") == "application/octet-stream":
                    prop.setdefault("format", "binary")
        implied = {
            (method.lower(), path): _implied_errors(route)
            for path, route in _api_routes(app)
            if route.include_in_schema
            for method in route.methods or ()
        }
        for path, ops in doc.get("paths", {}).items():
            for method, op in ops.items():
                responses = op.setdefault("responses", {})
                statuses = {int(s) for s in responses if s.isdigit() and int(s) >= 400}
                statuses |= implied.get((method, path), set())
                if "422" in responses or "parameters" in op or "requestBody" in op:
                    statuses.add(422)
                if "requestBody" in op:
                    statuses.add(413)
                statuses.add(503)
                for status in sorted(statuses):
                    content = responses.get(str(status), {}).get("content", {})
                    if content and "application/json" not in content:
                        continue  # a page's own error page (HTML), documented by its route
                    given = responses.get(str(status), {}).get("description")
                    responses[str(status)] = _error_response(
                        status, given if given and given != "Successful Response" else None
                    )
                for param in op.get("parameters", []):
                    if param.get("in") == "header" and param.get("name") == "Idempotency-Key":
                        param["required"] = True
                        param["schema"] = {"type": "string", "minLength": 1, "maxLength": 128}
                        param["description"] = "the same key + the same body replays the first response"
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def mount_docs(app: FastAPI, settings: Settings) -> None:
    install_openapi(app)
    if settings.exposure("docs") == "off":
        return  # absent: 404 like any unknown path
    deps = [Depends(guard("docs"))]

    @app.get("/openapi.json", include_in_schema=False, dependencies=deps)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/asyncapi.yaml", include_in_schema=False, dependencies=deps)
    async def asyncapi_yaml() -> Response:
        from app.realtime import asyncapi  # the gateway and every feature's ops: loaded on demand

        return Response(asyncapi.render(), media_type="application/yaml; charset=utf-8")

    @app.get("/docs", include_in_schema=False, dependencies=deps)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_ui_parameters={"persistAuthorization": True},
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False, dependencies=deps)
    async def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False, dependencies=deps)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title=f"{app.title} — API",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )

    @app.get(ASSETS_URL + "/{name}", include_in_schema=False, dependencies=deps)
    async def asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise NotFound()
        return FileResponse(
            ASSETS_DIR / name, media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=86400"}
        )
