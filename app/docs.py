"""The OpenAPI document and the interactive docs (``/openapi.json``, ``/docs``, ``/redoc``),
served behind ``app.exposure.guard("docs")``."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from app.config import Settings
from app.exposure import guard


def mount_docs(app: FastAPI, settings: Settings) -> None:
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
