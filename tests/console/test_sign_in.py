"""Console sign-in: the app's one-time code, the session cookie, expiry, sign-out, language."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from app.auth import otp
from app.clock import utcnow
from app.console import sessions
from app.console.models import StaffAction
from app.main import create_app
from tests.console.support import csrf_of, new_client, request_code, sign_in


async def _actions(rt) -> list[StaffAction]:
    async with rt.sessionmaker() as db:
        return list((await db.execute(select(StaffAction).order_by(StaffAction.id))).scalars())


async def test_sign_in_with_the_code_then_sign_out(app, client, users, rt):
    mod = await users.make("赵磊", roles="moderator,user")
    pre, code = await request_code(client, mod.phone)
    r = await client.post("/console/login/verify", data={"phone": mod.phone, "code": code, "csrf_token": pre})
    assert r.status_code == 303 and r.headers["location"] == "/console/moderation"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(f"{sessions.COOKIE}="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie  # dev/test: http
    token = cookie.split(";")[0].split("=", 1)[1]

    page = await client.get("/console/moderation")
    assert page.status_code == 200 and "赵磊" in page.text and 'lang="zh-CN"' in page.text
    r = await client.post("/console/logout", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/console/login?bye=1"
    assert (await client.get("/console/moderation")).status_code == 303

    # The old cookie is dead on the server, not only forgotten by this browser.
    async with new_client(client._transport.app) as other:  # type: ignore[attr-defined]
        other.cookies.set(sessions.COOKIE, token)
        r = await other.get("/console/moderation")
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login?next=")
    assert [(a.action, a.outcome) for a in await _actions(rt)] == [
        ("sign_in", "ok"),
        ("console.sign_out", "ok"),
    ]


async def test_the_code_goes_through_the_apps_sender(client, users):
    adv = await users.make("刘洋", roles="advisor,user")
    _, code = await request_code(client, adv.phone)
    assert otp.OUTBOX[adv.user.phone_masked] == code


async def test_wrong_code_unknown_number_and_non_staff_are_refused_and_audited(client, users, rt):
    plain = await users.make("普通用户")
    pre, code = await request_code(client, plain.phone)
    r = await client.post(
        "/console/login/verify", data={"phone": plain.phone, "code": code, "csrf_token": pre}
    )
    assert r.status_code == 403 and "此账号没有后台权限" in r.text
    assert sessions.COOKIE not in client.cookies

    adv = await users.make("刘洋", roles="advisor,user")
    pre, _ = await request_code(client, adv.phone)
    r = await client.post(
        "/console/login/verify", data={"phone": adv.phone, "code": "000000", "csrf_token": pre}
    )
    assert r.status_code == 401 and "验证码错误" in r.text

    pre, code = await request_code(client, "+8613999990000")  # nobody has this number
    r = await client.post(
        "/console/login/verify", data={"phone": "+8613999990000", "code": code, "csrf_token": pre}
    )
    assert r.status_code == 401
    outcomes = [(a.staff_id, a.action, a.outcome) for a in await _actions(rt)]
    assert outcomes == [
        (plain.id, "sign_in", "forbidden"),
        (None, "sign_in", "unauthenticated"),
        (None, "sign_in", "unauthenticated"),
    ]
    # no account was created for the unknown number
    async with rt.sessionmaker() as db:
        from app.auth import service as auth

        assert await auth.get_user_by_phone(db, rt, "+8613999990000") is None


async def test_login_forms_need_their_own_token(app, client, users):
    adv = await users.make("刘洋", roles="advisor,user")
    await client.get("/console/login")
    r = await client.post("/console/login", data={"phone": adv.phone, "csrf_token": "forged"})
    assert r.status_code == 403
    async with new_client(client._transport.app) as fresh:  # type: ignore[attr-defined]
        r = await fresh.post("/console/login", data={"phone": adv.phone, "csrf_token": "x"})
        assert r.status_code == 403


async def test_next_only_leads_inside_the_consoles(client, users):
    adv = await users.make("刘洋", roles="advisor,user")
    for target, lands in [
        ("/console/advisor/inbox", "/console/advisor/inbox"),
        ("https://evil.example/console/", "/console/"),
        ("//evil.example/console/", "/console/"),
        ("/v1/wallet", "/console/"),
    ]:
        pre, code = await request_code(client, adv.phone)
        r = await client.post(
            "/console/login/verify",
            data={"phone": adv.phone, "code": code, "csrf_token": pre, "next": target},
        )
        assert r.status_code == 303 and r.headers["location"] == lands, target


async def test_a_page_without_a_session_sends_to_sign_in_and_back(client, users):
    r = await client.get("/console/advisor/clients/u_x?tab=1")
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login?next=%2Fconsole%2Fadvisor%2Fclients%2Fu_x%3Ftab%3D1"


async def test_an_idle_session_and_an_old_session_expire(client, users, monkeypatch):
    adv = await users.make("刘洋", roles="advisor,user")
    await sign_in(client, adv)
    assert (await client.get("/console/advisor")).status_code == 200
    later = utcnow() + timedelta(minutes=31)  # idle limit: 30 min
    monkeypatch.setattr(sessions.clock, "utcnow", lambda: later)
    assert (await client.get("/console/advisor")).status_code == 303
    monkeypatch.undo()

    await sign_in(client, adv)
    start = utcnow()
    for minutes in range(20, 12 * 60, 20):  # active all day long, never idle 30 min …
        monkeypatch.setattr(sessions.clock, "utcnow", lambda m=minutes: start + timedelta(minutes=m))
        assert (await client.get("/console/advisor")).status_code == 200, minutes
    monkeypatch.setattr(sessions.clock, "utcnow", lambda: start + timedelta(hours=12, minutes=1))
    assert (await client.get("/console/advisor")).status_code == 303  # … but 12 hours is the limit


async def test_a_role_taken_away_applies_at_once(client, users, rt):
    adv = await users.make("刘洋", roles="advisor,user")
    await sign_in(client, adv)
    async with rt.sessionmaker() as db:
        from app.auth.models import User
        from app.db import transaction

        async with transaction(db):
            (await db.get(User, adv.id)).roles = "user"
    assert (await client.get("/console/advisor")).status_code == 303


async def test_home_sends_each_role_to_its_console(app, client, users):
    for roles, home in [
        ("advisor,user", "/console/advisor"),
        ("moderator,user", "/console/moderation"),
        ("admin,user", "/console/ops"),
    ]:
        person = await users.make(roles, roles=roles)
        async with new_client(client._transport.app) as browser:  # type: ignore[attr-defined]
            await sign_in(browser, person)
            r = await browser.get("/console/")
            assert r.status_code == 303 and r.headers["location"] == home


async def test_chinese_by_default_english_on_request(client, users):
    mod = await users.make("赵磊", roles="moderator,user")
    await sign_in(client, mod)
    assert "审核队列" in (await client.get("/console/moderation")).text
    page = await client.get("/console/moderation", headers={"Accept-Language": "en-US,en;q=0.9,zh;q=0.5"})
    assert "Review queue" in page.text and 'lang="en"' in page.text
    page = await client.get("/console/moderation", headers={"Accept-Language": "en;q=0.4,zh-CN;q=0.8"})
    assert "审核队列" in page.text
    page = await client.get("/console/moderation?lang=en")
    assert "Review queue" in page.text
    assert "Review queue" in (await client.get("/console/moderation")).text  # remembered (cookie)
    assert "审核队列" in (await client.get("/console/moderation?lang=zh")).text


async def test_in_prod_the_cookie_is_secure_and_no_code_is_shown(settings, users, rt):
    prod = settings.model_copy(
        update={
            "env": "prod",
            "secret_key": "x" * 40,
            "service_token": "prod-service-token",
            "phone_hmac_key": "prod-phone-key",
        }
    )
    rt.settings = prod
    app = create_app(runtime=rt, run_jobs=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://test") as browser,
    ):
        adv = await users.make("刘洋", roles="advisor,user")
        form = await browser.get("/console/login")
        pre = csrf_of(form.text)
        r = await browser.post("/console/login", data={"phone": adv.phone, "csrf_token": pre})
        assert r.status_code == 200 and "dev-code" not in r.text
        code = otp.OUTBOX[adv.user.phone_masked]
        r = await browser.post(
            "/console/login/verify", data={"phone": adv.phone, "code": code, "csrf_token": pre}
        )
        assert r.status_code == 303
        cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(f"{sessions.COOKIE}="))
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
