"""Console sign-in and sign-out, the start page, the socket token, and static files.

Sign-in is two steps, like the app: the phone number (the same one-time-code sender and
limits as ``POST /v1/auth/otp``), then the code. Before there is a session, the forms are
protected by a double-submit token: a random cookie (``qz_console_pre``, SameSite=Strict)
that the form must repeat.
"""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from app.auth import service as auth
from app.auth import tokens
from app.console import service as console
from app.console import sessions
from app.console.web import (
    NO_AUDIT,
    AnyStaff,
    Csrf,
    client_ip,
    console_router,
    render,
    static_file,
    user_agent,
)
from app.deps import DbSession, Rt
from app.errors import QuanziError

router = console_router()
PRE_COOKIE = "qz_console_pre"
WS_TOKEN_TTL_S = 120

_LOGIN_ERRORS = {
    "unauthenticated": "验证码错误或已过期。",
    "forbidden": "此账号没有后台权限。",
    "rate_limited": "操作过于频繁，请稍后再试。",
    "validation_error": "请求无效。",
}


def _safe_next(target: str | None) -> str:
    """Only a path inside the consoles (no open redirect)."""
    if not target:
        return "/console/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/") or "\\" in target:
        return "/console/"
    return target


def _secure(request: Request) -> bool:
    return not request.app.state.rt.settings.is_dev


def _login_page(
    request: Request,
    *,
    step: str = "phone",
    phone: str = "",
    error: str | None = None,
    notice: str | None = None,
    dev_code: str | None = None,
    next_: str | None = None,
    status_code: int = 200,
) -> Response:
    pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        "console/login.html",
        status_code=status_code,
        step=step,
        phone=phone,
        error=error,
        notice=notice,
        dev_code=dev_code,
        next=_safe_next(next_ if next_ is not None else request.query_params.get("next")),
        csrf_token=pre,
    )
    response.set_cookie(
        PRE_COOKIE, pre, httponly=True, samesite="strict", secure=_secure(request), path="/console/"
    )
    return response


def _pre_ok(request: Request, presented: str) -> bool:
    cookie = request.cookies.get(PRE_COOKIE)
    return cookie is not None and bool(cookie) and secrets.compare_digest(cookie.encode(), presented.encode())


@router.get("/console/login", name="console.login_form")
async def login_form(request: Request, rt: Rt) -> Response:
    notice = "已退出登录。" if request.query_params.get("bye") else None
    if request.query_params.get("next"):
        notice = "请先登录。"
    return _login_page(request, notice=notice)


@router.post("/console/login", name="console.send_code")
async def send_code(
    request: Request,
    rt: Rt,
    phone: Annotated[str, Form(max_length=32)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    if not _pre_ok(request, csrf_token):
        return _login_page(
            request, phone=phone, error="表单已失效，请刷新页面后重试。", next_=next, status_code=403
        )
    try:
        code = await auth.request_code(rt, phone=phone, client_ip=client_ip(request))
    except QuanziError as exc:
        error = _LOGIN_ERRORS.get(exc.code, "请求无效。")
        return _login_page(request, phone=phone, error=error, next_=next, status_code=exc.status)
    return _login_page(request, step="code", phone=phone, dev_code=code, next_=next)


@router.post("/console/login/verify", name="console.verify_code")
async def verify_code(
    request: Request,
    rt: Rt,
    db: DbSession,
    phone: Annotated[str, Form(max_length=32)] = "",
    code: Annotated[str, Form(max_length=12)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    if not _pre_ok(request, csrf_token):
        return _login_page(
            request,
            step="code",
            phone=phone,
            error="表单已失效，请刷新页面后重试。",
            next_=next,
            status_code=403,
        )
    try:
        token, _, user = await console.sign_in(
            db, rt, phone=phone, code=code.strip(), ip=client_ip(request), user_agent=user_agent(request)
        )
    except QuanziError as exc:
        step = "phone" if exc.code in ("forbidden", "rate_limited") else "code"
        return _login_page(
            request,
            step=step,
            phone=phone,
            error=_LOGIN_ERRORS.get(exc.code, "请求无效。"),
            next_=next,
            status_code=exc.status,
        )
    target = _safe_next(next) if next else console.home_of(user)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        sessions.COOKIE, token, httponly=True, samesite="strict", secure=_secure(request), path="/"
    )
    response.delete_cookie(PRE_COOKIE, path="/console/")
    return response


@router.post("/console/logout", name="console.sign_out", dependencies=[Csrf])
async def sign_out(request: Request, staff: AnyStaff, rt: Rt) -> Response:
    await sessions.destroy(rt, request.cookies.get(sessions.COOKIE))
    response = RedirectResponse("/console/login?bye=1", status_code=303)
    response.delete_cookie(
        sessions.COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request)
    )
    return response


@router.get("/console/", name="console.home")
@router.get("/console", name="console.home_bare")
async def home(staff: AnyStaff) -> Response:
    return RedirectResponse(console.home_of(staff.user), status_code=303)


@router.post("/console/ws-token", name="console.ws_token", dependencies=[Csrf], openapi_extra=NO_AUDIT)
async def ws_token(request: Request, staff: AnyStaff, rt: Rt) -> Response:
    """An access token for this page's ``/v1/ws`` connection (the app's own protocol)."""
    # Short-lived: it only has to last until the page's socket sends its first frame.
    return JSONResponse({"token": tokens.issue(rt.settings, staff.id, ttl_s=WS_TOKEN_TTL_S)})


@router.get("/console/static/{pkg}/{name}", name="console.static")
async def static(pkg: str, name: str) -> Response:
    return static_file(pkg, name)
