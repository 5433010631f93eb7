"""Console test helpers: sign in through the pages as a browser would (httpx on the ASGI app)."""

from __future__ import annotations

import re

import httpx

from tests.support.people import Person

_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)"')
_DEV_CODE = re.compile(r'data-testid="dev-code">[^0-9]*([0-9]{6})')


def csrf_of(html: str) -> str:
    found = _CSRF_META.search(html) or _CSRF_FIELD.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def request_code(client: httpx.AsyncClient, phone: str) -> tuple[str, str]:
    """(the login form's token, the dev code) after asking for a code."""
    form = await client.get("/console/login")
    pre = _CSRF_FIELD.search(form.text)
    assert pre, form.text
    r = await client.post("/console/login", data={"phone": phone, "csrf_token": pre.group(1)})
    assert r.status_code == 200, r.text
    code = _DEV_CODE.search(r.text)
    assert code, r.text
    return pre.group(1), code.group(1)


async def sign_in(client: httpx.AsyncClient, person: Person) -> str:
    """Sign ``person`` in to the consoles; returns the session's CSRF token."""
    pre, code = await request_code(client, person.phone)
    r = await client.post(
        "/console/login/verify", data={"phone": person.phone, "code": code, "csrf_token": pre}
    )
    assert r.status_code == 303, r.text
    home = await client.get(r.headers["location"])
    assert home.status_code in (200, 303), home.text
    if home.status_code == 303:
        home = await client.get(home.headers["location"])
    assert home.status_code == 200, home.text
    return csrf_of(home.text)


def new_client(app: object) -> httpx.AsyncClient:
    """A second browser: its own cookie jar."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")  # type: ignore[arg-type]
