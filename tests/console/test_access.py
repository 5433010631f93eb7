"""Who may open what: every console page by direct URL, for every staff role, and CSRF on
every form. The tables below must name every console route (the last test checks)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from app import features
from app.console import sessions
from app.db import transaction
from content.moderation import service as moderation
from content.moderation.models import FilterConfig, ModerationItem, Mute
from social.advisors import service as advisors
from social.advisors.models import AdvisorAssignment, AdvisorNote
from tests.console.support import new_client, sign_in
from tests.content.helpers import new_post
from tests.content.products_support import catalogue


@dataclass
class World:
    advisor_a: object
    advisor_b: object
    moderator: object
    admin: object
    client_a: object
    client_b: object
    item_id: str


@pytest.fixture
async def world(client, users, rt) -> World:
    a = await users.make("刘洋", roles="advisor,user")
    b = await users.make("陈晨", roles="advisor,user")
    m = await users.make("赵磊", roles="moderator,user")
    x = await users.make("管理员", roles="admin,user")
    ca = await users.make("李娜")
    cb = await users.make("王伟")
    async with rt.sessionmaker() as db:
        await advisors.assign(db, rt, client_id=ca.id, advisor_id=a.id)
        await advisors.assign(db, rt, client_id=cb.id, advisor_id=b.id)
    await new_post(client, cb, text="保本保息，加我微信 abc123456")
    await catalogue(client, x)
    async with rt.sessionmaker() as db:
        [item] = (await moderation.queue(db, limit=5, cursor=None)).items
    return World(a, b, m, x, ca, cb, item.item.id)


ROLES = ("advisor_a", "advisor_b", "moderator", "admin")


def gets(w: World) -> dict[str, set[str]]:
    """Each page (a concrete URL) → the staff who may open it."""
    return {
        "/console/advisor": {"advisor_a", "advisor_b"},
        "/console/advisor/inbox": {"advisor_a", "advisor_b"},
        f"/console/advisor/clients/{w.client_a.id}": {"advisor_a"},  # advisor_b: 404, not theirs
        "/console/moderation": {"moderator", "admin"},
        f"/console/moderation/items/{w.item_id}": {"moderator", "admin"},
        f"/console/moderation/items/{w.item_id}/row": {"moderator", "admin"},
        "/console/moderation/terms": {"moderator", "admin"},
        "/console/moderation/audit": {"moderator", "admin"},
        "/console/ops": {"admin"},
        "/console/ops/panel": {"admin"},
        "/console/ops/advisors": {"admin"},
        "/console/ops/audit": {"admin"},
    }


def posts(w: World) -> dict[str, tuple[set[str], dict[str, str]]]:
    """Each form target → (the staff who may send it, a valid form)."""
    return {
        f"/console/advisor/clients/{w.client_a.id}/notes": ({"advisor_a"}, {"text": "备注"}),
        f"/console/advisor/clients/{w.client_a.id}/products": ({"advisor_a"}, {"preset": "dep-r1"}),
        f"/console/moderation/items/{w.item_id}/decision": (
            {"moderator", "admin"},
            {"action": "approve", "reason": "ok"},
        ),
        f"/console/moderation/users/{w.client_b.id}/mute": (
            {"moderator", "admin"},
            {"hours": "2", "reason": "刷屏"},
        ),
        "/console/moderation/terms": (
            {"moderator", "admin"},
            {"name": "spam", "action": "review", "terms": "刷单", "expected_version": "0"},
        ),
        "/console/ops/advisors/match": ({"admin"}, {}),
        f"/console/ops/advisors/assignments/{w.client_a.id}": ({"admin"}, {"advisor_id": w.advisor_b.id}),
    }


# Routes tested elsewhere or open to anyone (sign-in, static files) or any staff member.
OTHER_ROUTES = {
    "/console/login",
    "/console/login/verify",
    "/console/logout",
    "/console/",
    "/console",
    "/console/ws-token",
    "/console/static/{pkg}/{name}",
    "/console/moderation/terms/preview",  # JSON; covered in test_json_posts_check_role_and_csrf
}


async def test_every_page_by_direct_url_for_every_role(app, world):
    for role in ROLES:
        async with new_client(app) as browser:
            await sign_in(browser, getattr(world, role))
            for url, allowed in gets(world).items():
                r = await browser.get(url)
                if role in allowed:
                    assert r.status_code == 200, (role, url, r.status_code)
                else:
                    assert r.status_code in (403, 404), (role, url, r.status_code)
                    assert 'data-testid="error-page"' in r.text
                    assert world.client_a.user.display_name not in r.text


async def test_every_form_refuses_the_wrong_role_and_changes_nothing(app, world, rt):
    before = await _state(rt)
    for role in ROLES:
        async with new_client(app) as browser:
            csrf = await sign_in(browser, getattr(world, role))
            for url, (allowed, form) in posts(world).items():
                if role in allowed:
                    continue
                r = await browser.post(url, data={**form, "csrf_token": csrf})
                assert r.status_code in (403, 404), (role, url, r.status_code, r.text[:200])
    assert await _state(rt) == before


async def _state(rt) -> tuple[int, ...]:
    async with rt.sessionmaker() as db:
        return (
            int(await db.scalar(select(func.count()).select_from(AdvisorNote)) or 0),
            int(await db.scalar(select(func.count()).where(ModerationItem.status == "open")) or 0),
            int(await db.scalar(select(func.count()).select_from(Mute)) or 0),
            int(await db.scalar(select(func.count()).select_from(FilterConfig)) or 0),
            int(await db.scalar(select(func.count()).select_from(AdvisorAssignment)) or 0),
            hash(
                tuple(
                    (
                        await db.execute(select(AdvisorAssignment.client_id, AdvisorAssignment.advisor_id))
                    ).all()
                )
            ),
        )


async def test_every_form_refuses_a_missing_wrong_or_cross_site_csrf_token(app, world, rt):
    before = await _state(rt)
    for url, (allowed, form) in posts(world).items():
        role = sorted(allowed)[0]
        async with new_client(app) as browser:
            csrf = await sign_in(browser, getattr(world, role))
            for data, headers in [
                (form, {}),
                ({**form, "csrf_token": "wrong"}, {}),
                ({**form, "csrf_token": csrf}, {"Origin": "https://evil.example"}),
                ({**form, "csrf_token": csrf}, {"Sec-Fetch-Site": "cross-site"}),
            ]:
                r = await browser.post(url, data=data, headers=headers)
                assert r.status_code == 403, (url, headers, r.status_code)
                assert "表单已失效" in r.text
    assert await _state(rt) == before
    # … and with the right token the same forms work
    for url, (allowed, form) in posts(world).items():
        async with new_client(app) as browser:
            csrf = await sign_in(browser, getattr(world, sorted(allowed)[0]))
            r = await browser.post(url, data={**form, "csrf_token": csrf})
            assert r.status_code == 303, (url, r.status_code, r.text[:300])


async def test_json_posts_check_role_and_csrf(app, world):
    body = {"text": "稳赚不赔", "categories": None}
    async with new_client(app) as browser:
        csrf = await sign_in(browser, world.moderator)
        r = await browser.post(
            "/console/moderation/terms/preview", json=body, headers={"Accept": "application/json"}
        )
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        r = await browser.post(
            "/console/moderation/terms/preview",
            json=body,
            headers={"Accept": "application/json", "X-CSRF-Token": csrf},
        )
        assert r.status_code == 200 and r.json()["action"] == "review"
        r = await browser.post("/console/ws-token", headers={"Accept": "application/json"})
        assert r.status_code == 403
    async with new_client(app) as browser:
        csrf = await sign_in(browser, world.advisor_a)
        r = await browser.post(
            "/console/moderation/terms/preview",
            json=body,
            headers={"Accept": "application/json", "X-CSRF-Token": csrf},
        )
        assert r.status_code == 403


async def test_without_a_session_pages_redirect_and_forms_answer_401(app, world):
    async with new_client(app) as browser:
        for url in gets(world):
            r = await browser.get(url)
            assert r.status_code == 303 and r.headers["location"].startswith("/console/login?next="), url
        for url, (_, form) in posts(world).items():
            r = await browser.post(url, data=form)
            assert r.status_code == 401, url
        browser.cookies.set(sessions.COOKIE, "forged-token")
        assert (await browser.get("/console/ops")).status_code == 303


def _normalise(path: str) -> str:
    return re.sub(r"/(u|mi)_[0-9a-z]+", "/{}", path)


async def test_the_tables_name_every_console_route(app, world):
    served = {
        re.sub(r"\{[^}]+\}", "{}", r.path)
        for router in features.routers()
        for r in router.routes
        if r.path.startswith("/console") and r.path not in OTHER_ROUTES
    }
    tested = {_normalise(u) for u in gets(world)} | {_normalise(u) for u in posts(world)}
    assert served == tested, served ^ tested


async def test_pages_carry_security_headers(app, world):
    async with new_client(app) as browser:
        await sign_in(browser, world.moderator)
        r = await browser.get("/console/moderation")
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["cache-control"] == "no-store"


async def test_advisor_b_cannot_reach_a_client_through_any_door(app, world, rt):
    """Cross-advisor: pages, forms and the JSON share all say not found."""
    async with new_client(app) as browser:
        csrf = await sign_in(browser, world.advisor_b)
        assert (await browser.get(f"/console/advisor/clients/{world.client_a.id}")).status_code == 404
        r = await browser.post(
            f"/console/advisor/clients/{world.client_a.id}/notes", data={"text": "x", "csrf_token": csrf}
        )
        assert r.status_code == 404
        r = await browser.post(
            f"/console/advisor/clients/{world.client_a.id}/products",
            data={"preset": "dep-r1", "csrf_token": csrf},
            headers={"Accept": "application/json"},
        )
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    async with rt.sessionmaker() as db, transaction(db):
        assert (await db.scalar(select(func.count()).select_from(AdvisorNote))) == 0
