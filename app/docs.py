"""The OpenAPI document and the interactive docs (``/openapi.json``, ``/docs``, ``/redoc``),
served behind ``app.exposure.guard("docs")``.

The document describes errors as they are served: every operation's 422 is the error
envelope (``ErrorEnvelope``, not FastAPI's ``{"detail": …}``), an operation with a body
may answer 413 ``payload_too_large`` (``app/inputguard.py``), and any operation may
answer 503 ``unavailable`` with ``Retry-After`` when the database is unreachable.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse

from app.config import Settings
from app.errors import ErrorEnvelope
from app.exposure import guard


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
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} — API")

    @app.get("/redoc", include_in_schema=False, dependencies=deps)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} — API")
