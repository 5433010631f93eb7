"""The OpenAPI document and the interactive docs (``/openapi.json``, ``/docs``, ``/redoc``),
served behind ``app.exposure.guard("docs")``.

The pages work without internet (a bank intranet, a headless browser): Swagger UI's and
ReDoc's scripts, stylesheet and favicon are served by the service itself from
``/docs/assets/…``, read from the installed ``fastapi-offline`` package (PyPI; never
copied into this repository). No page loads anything from a CDN or Google Fonts.

The document describes errors as they are served: every operation's 422 is the error
envelope (``ErrorEnvelope``, not FastAPI's ``{"detail": …}``), an operation with a body
may answer 413 ``payload_too_large`` (``app/inputguard.py``), and any operation may
answer 503 ``unavailable`` with ``Retry-After`` when the database is unreachable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import Depends, FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import BaseModel

from app.config import Settings
from app.errors import NotFound
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


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}


class ErrorEnvelope(BaseModel):
    """Every error response: ``{"error": {"code", "message", "details"}}`` (``app/errors.py``)."""

    error: ErrorBody


def _error_response(description: str, retry_after: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
    }
    if retry_after:
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
    return response


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` describe the error envelope as served (see the module doc)."""

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
        for ops in doc.get("paths", {}).values():
            for op in ops.values():
                responses = op.setdefault("responses", {})
                if "422" in responses or "parameters" in op or "requestBody" in op:
                    responses["422"] = _error_response("validation_error: the request is invalid")
                if "requestBody" in op:
                    responses["413"] = _error_response("payload_too_large: the body is above the limit")
                responses["503"] = _error_response("unavailable: the database is unreachable; retry", True)
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
