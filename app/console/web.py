"""What every console page needs: the signed-in staff member, role checks, CSRF, templates.

A feature's ``console.py`` declares ``router = console_router()`` and its pages:

    @router.get("/console/advisor", name="advisors.clients")
    async def clients(request: Request, staff: AdvisorStaff, db: DbSession, rt: Rt) -> Response:
        return render(request, "advisors/clients.html", page=await advisors.clients(...))

- ``staff_with("advisor")`` (an ``Annotated`` dependency) loads the session from its
  cookie and checks the role on the server for every request: no session sends a page
  request to sign-in (303), a missing role is a 403 page. Roles are read from the
  database each time, so a role taken away applies at once.
- ``Csrf`` (on every POST) checks the session's CSRF token (form field ``csrf_token`` or
  header ``X-CSRF-Token``) and that the request comes from our own origin.
- ``ConsoleRoute`` renders domain errors as pages (or as the JSON envelope for a script's
  ``fetch``), sets the security headers, and audits every state-changing request: who,
  what (the route name and its path ids), when, from where, and the outcome.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import jinja2
from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute

from app.auth import service as auth
from app.console import i18n, sessions
from app.console import service as console
from app.db import end_read
from app.deps import DbSession, Rt
from app.errors import Forbidden, QuanziError, Unauthenticated, ValidationFailed, error_response
from app.proxy import client_address
from app.runtime import Runtime

HERE = Path(__file__).resolve().parent
_loaders: dict[str, jinja2.BaseLoader] = {"console": jinja2.FileSystemLoader(HERE / "templates")}
_loader = jinja2.PrefixLoader(_loaders)
env = jinja2.Environment(loader=_loader, autoescape=True, trim_blocks=True, lstrip_blocks=True)
_static: dict[str, Path] = {"console": HERE / "static"}
_STATIC_NAME = re.compile(r"^[a-z0-9_-]+\.(js|css|svg)$")
_MEDIA_TYPES = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}


def register(prefix: str, folder: Path) -> None:
    """Add a feature's templates (``folder/templates``, as ``prefix/…``) and static files
    (``folder/static``, served at ``/console/static/prefix/…``)."""
    _loaders[prefix] = jinja2.FileSystemLoader(folder / "templates")
    if (folder / "static").is_dir():
        _static[prefix] = folder / "static"


# ---- the signed-in staff member ------------------------------------------------------------


class LoginRequired(Unauthenticated):
    default_message = "please sign in"


class CsrfRejected(Forbidden):
    default_message = "CSRF token missing or wrong"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, reason="csrf")


@dataclass
class Staff:
    user: auth.Profile
    session: sessions.StaffSession
    ip: str
    user_agent: str

    @property
    def id(self) -> str:
        return self.user.id

    def has(self, role: str) -> bool:
        return self.user.has_role(role)


def client_ip(request: Request) -> str:
    """The client's address (a trusted proxy's X-Forwarded-For applied: ``app.proxy``)."""
    return client_address(request.scope)


def user_agent(request: Request) -> str:
    return request.headers.get("user-agent", "")[:256]


async def get_staff(request: Request, rt: Rt, db: DbSession) -> Staff:
    """The staff member whose session cookie came with the request. Raises LoginRequired."""
    session = await sessions.load(rt, request.cookies.get(sessions.COOKIE))
    if session is None:
        raise LoginRequired()
    user = await auth.get_profile(db, session.user_id)
    await end_read(db)
    if user is None or not console.is_staff(user):
        await sessions.destroy(rt, request.cookies.get(sessions.COOKIE))
        raise LoginRequired()
    staff = Staff(user=user, session=session, ip=client_ip(request), user_agent=user_agent(request))
    request.state.staff = staff
    return staff


AnyStaff = Annotated[Staff, Depends(get_staff)]


def staff_with(*roles: str) -> Callable[[Staff], Awaitable[Staff]]:
    """A dependency that lets through staff holding any of ``roles``; use it as
    ``Annotated[Staff, Depends(staff_with("advisor"))]``. Raises Forbidden."""

    async def check(staff: AnyStaff) -> Staff:
        if not any(staff.has(r) for r in roles):
            raise Forbidden(f"requires role {' or '.join(roles)}", reason="role")
        return staff

    return check


def _same_origin(request: Request) -> bool:
    """A browser's state-changing request must come from our own pages."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


async def presented_csrf(request: Request) -> str | None:
    token = request.headers.get("x-csrf-token")
    if token is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get("csrf_token")
        token = value if isinstance(value, str) else None
    return token


async def check_csrf(request: Request, staff: AnyStaff) -> None:
    """Raises CsrfRejected unless the request carries the session's token from our origin."""
    if not _same_origin(request) or not staff.session.csrf_ok(await presented_csrf(request)):
        raise CsrfRejected()


Csrf = Depends(check_csrf)


# ---- pages --------------------------------------------------------------------------------------


def lang_of(request: Request) -> str:
    cached = getattr(request.state, "lang", None)
    if cached is None:
        cached = request.state.lang = i18n.pick(
            request.query_params.get("lang"),
            request.cookies.get(i18n.COOKIE),
            request.headers.get("accept-language"),
        )
    return str(cached)


def _fmt_dt(value: datetime | None, tz: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(tz).strftime(fmt) if value is not None else "—"


def _fmt_fen(value: int | None) -> str:
    if value is None:
        return "—"
    sign = "-" if value < 0 else ""
    yuan, fen = divmod(abs(int(value)), 100)
    return f"{sign}¥{yuan:,}.{fen:02d}"


env.filters["fen"] = _fmt_fen


def query_url(request: Request, **changes: Any) -> str:
    """This page's URL with some query parameters changed (None removes one)."""
    params = dict(request.query_params)
    for k, v in changes.items():
        if v is None or v == "":
            params.pop(k, None)
        else:
            params[k] = str(v)
    return request.url.path + ("?" + urlencode(params) if params else "")


def nav_for(staff: Staff | None, lang: str) -> list[tuple[str, str]]:
    if staff is None:
        return []
    _ = i18n.translator(lang)
    links = []
    if staff.has("advisor"):
        links.append((_("理财经理工作台"), "/console/advisor"))
    if staff.has("moderator") or staff.has("admin"):
        links.append((_("内容审核台"), "/console/moderation"))
    if staff.has("admin"):
        links.append((_("运营看板"), "/console/ops"))
    return links


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    rt: Runtime = request.app.state.rt
    lang = lang_of(request)
    staff: Staff | None = getattr(request.state, "staff", None)
    tz = ZoneInfo(rt.settings.timezone)
    page = env.get_template(template).render(
        request=request,
        staff=staff,
        lang=lang,
        _=i18n.translator(lang),
        csrf_token=staff.session.csrf if staff else context.pop("csrf_token", ""),
        nav=nav_for(staff, lang),
        url=lambda **changes: query_url(request, **changes),
        dt=lambda value, fmt="%Y-%m-%d %H:%M": _fmt_dt(value, tz, fmt),
        is_dev=rt.settings.is_dev,
        tz=rt.settings.timezone,
        **context,
    )
    response = HTMLResponse(page, status_code=status_code)
    if request.query_params.get("lang") in i18n.LANGS:
        response.set_cookie(
            i18n.COOKIE, lang, max_age=365 * 24 * 3600, samesite="strict", secure=not rt.settings.is_dev
        )
    return response


_ERROR_TEXT = {
    "forbidden": "没有权限访问此页面。",
    "not_found": "未找到。",
    "validation_error": "请求无效。",
    "rate_limited": "操作过于频繁，请稍后再试。",
    "unauthenticated": "请先登录。",
    "conflict": "冲突：数据已被他人修改。",
}


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def error_page(request: Request, exc: QuanziError) -> Response:
    if wants_json(request):
        return error_response(exc)
    reason = exc.details.get("reason")
    text = "表单已失效，请刷新页面后重试。" if reason == "csrf" else _ERROR_TEXT.get(exc.code, "出错了")
    return render(request, "console/error.html", status_code=exc.status, error=exc, text=text)


# ---- the route class ----------------------------------------------------------------------------------


def security_headers(request: Request) -> dict[str, str]:
    host = request.headers.get("host", "")
    return {
        "Content-Security-Policy": (
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            f"script-src 'self'; connect-src 'self' ws://{host} wss://{host}; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        ),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/console/login?" + urlencode({"next": target}), status_code=303)


async def _audit(request: Request, route: APIRoute, outcome: str) -> None:
    staff: Staff | None = getattr(request.state, "staff", None)
    if staff is None:
        return
    params: Mapping[str, Any] = request.path_params
    target_kind, target_id = next(iter(params.items()), (None, None))
    extra = getattr(request.state, "audit", None) or {}
    await console.record(
        request.app.state.rt,
        staff_id=staff.id,
        action=route.name,
        outcome=outcome,
        ip=staff.ip,
        user_agent=staff.user_agent,
        session_id=staff.session.id,
        target_kind=extra.pop("target_kind", None)
        or (str(target_kind).removesuffix("_id") if target_kind else None),
        target_id=extra.pop("target_id", None) or (str(target_id) if target_id is not None else None),
        data=extra,
    )


class ConsoleRoute(APIRoute):
    """Console pages: errors as pages, security headers, and an audit entry per change."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        audited = (self.openapi_extra or {}).get("audit", bool((self.methods or set()) & _CHANGES))

        async def run(request: Request) -> Response:
            outcome = "ok"
            try:
                response = await handler(request)
            except LoginRequired as exc:
                outcome = exc.code
                if request.method == "GET" and not wants_json(request):
                    response = login_redirect(request)
                else:
                    response = error_page(request, exc)
            except QuanziError as exc:
                outcome = exc.code
                response = error_page(request, exc)
            except RequestValidationError:
                outcome = "validation_error"
                response = error_page(request, ValidationFailed("invalid request"))
            if audited:
                await _audit(request, self, outcome)
            for name, value in security_headers(request).items():
                response.headers.setdefault(name, value)
            return response

        return run


def console_router() -> APIRouter:
    """A router for console pages (kept out of the OpenAPI document: they are not API)."""
    return APIRouter(route_class=ConsoleRoute, include_in_schema=False)


# ``openapi_extra`` of a GET page whose viewing is itself audited (personal data), and of a
# POST that changes nothing worth auditing.
AUDIT_VIEW: dict[str, Any] = {"audit": True}
NO_AUDIT: dict[str, Any] = {"audit": False}
_CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def static_file(pkg: str, name: str) -> Response:
    folder = _static.get(pkg)
    if folder is None or not _STATIC_NAME.match(name) or not (folder / name).is_file():
        return JSONResponse({"error": {"code": "not_found", "message": "not found", "details": {}}}, 404)
    return FileResponse(
        folder / name,
        media_type=_MEDIA_TYPES[name.rsplit(".", 1)[1]],
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )
