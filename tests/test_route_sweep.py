"""Every route, as a hostile or careless client would call it.

- Without a token, every non-public route answers 401 in the error envelope.
- With a valid token but junk bodies, junk ids and junk query values, no route answers
  a 500, and the ledger still balances.

It walks the routes of the app's OpenAPI document, so each feature is covered as soon as it is mounted.
"""

from __future__ import annotations

import re

from app.ledger import service as ledger

# Routes a client may call without a user token (the rest must answer 401).
PUBLIC = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/auth/otp",
    "/v1/auth/token",
    "/v1/auth/refresh",  # the refresh token in the body is the credential
    "/v1/dev/clock",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
}
# Routes that are public by design: an uploaded image is addressed by an unguessable id,
# as an <img> tag loads it (no Authorization header). The rendered pictures (forest
# widget and certificates, the referral poster) show a user's own data: they need a token.
# A referral share page and its poster (/r/{code}) are public: the code is what was shared.
PUBLIC_PATTERNS = [re.compile(p) for p in (r"^/v1/media/\{[^}]+\}/\{[^}]+\}$", r"^/v1/dev/", r"^/r/\{code\}")]

ERASE_ME = ("DELETE", "/v1/me")

JUNK_BODIES = [
    b"",
    b"{not json",
    b"[]",
    b'"text"',
    b"null",
    b'{"unexpected": true}',
    b'{"amount_fen": -1, "text": "", "phone": 5, "ids": "x"}',
]


def routes(app) -> list[tuple[str, str]]:
    """(method, path) of every HTTP route, from the OpenAPI document the app publishes."""
    return [(method.upper(), path) for path, ops in app.openapi()["paths"].items() for method in ops]


def fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "doesnotexist", path)


def is_public(path: str) -> bool:
    return path in PUBLIC or any(p.search(path) for p in PUBLIC_PATTERNS)


async def test_every_private_route_requires_a_token(app, client):
    checked = 0
    for method, path in routes(app):
        if is_public(path):
            continue
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            r = await client.request(method, fill(path), headers=headers)
            assert r.status_code == 401, (method, path, r.status_code, r.text)
            assert r.json()["error"]["code"] == "unauthenticated"
        checked += 1
    assert checked >= 5
    for picture in (
        "/v1/forest/widget.png",
        "/v1/forest/trees/{tree_id}/certificate.png",
        "/v1/referrals/me/poster.png",
    ):
        assert ("GET", picture) in routes(app) and not is_public(picture), picture


async def test_no_route_answers_500_to_junk(app, client, rt, users):
    alice = await users.make("alice", balance_fen=10_000)
    # Erasing the caller's account goes last: every other route is swept with a live account.
    swept = sorted(routes(app), key=lambda route: route == ERASE_ME)
    assert swept[-1] == ERASE_ME
    for method, path in swept:
        if path in ("/docs", "/redoc", "/docs/oauth2-redirect", "/openapi.json"):
            continue
        for n, body in enumerate(JUNK_BODIES if method in ("POST", "PUT", "PATCH") else [None]):
            headers = {**alice.headers, "Idempotency-Key": f"junk-{n}", "Content-Type": "application/json"}
            r = await client.request(
                method,
                fill(path),
                content=body,
                headers=headers,
                params={"limit": "x", "cursor": "%%", "after_seq": "-", "scope": "?"},
            )
            assert r.status_code < 500, (method, path, body, r.status_code, r.text)
            if r.status_code >= 400 and r.headers.get("content-type", "").startswith("application/json"):
                assert "error" in r.json(), (method, path, r.text)
    async with rt.sessionmaker() as db:
        assert (await ledger.audit(db)).ok
