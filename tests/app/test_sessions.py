"""Short-lived access tokens, rotating refresh tokens, logout (API.md "Auth and users")."""

from __future__ import annotations

from datetime import timedelta

import httpx
import jwt
import pytest
import websockets

from app.auth import tokens
from app.clock import utcnow
from tests.support.people import error_code
from tests.support.servers import running_servers
from tests.support.ws import ws_connect


async def login(client: httpx.AsyncClient, phone: str = "+8613800138000") -> dict:
    r = await client.post("/v1/auth/otp", json={"phone": phone})
    assert r.status_code == 202, r.text
    r = await client.post("/v1/auth/token", json={"phone": phone, "code": r.json()["dev_code"]})
    assert r.status_code == 200, r.text
    return r.json()


def bearer(pair: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post("/v1/auth/refresh", json={"refresh_token": refresh_token})


async def test_login_gives_a_short_lived_access_token_and_a_refresh_token(client, rt):
    pair = await login(client)
    assert set(pair) == {"access_token", "refresh_token", "expires_in", "token_type", "user"}
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == rt.settings.access_token_ttl_s == 15 * 60
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 15 * 60 and claims["sid"].startswith("s_")
    assert (await client.get("/v1/me", headers=bearer(pair))).json()["id"] == pair["user"]["id"]


async def test_token_responses_are_not_cached(client):
    r = await client.post("/v1/auth/otp", json={"phone": "+8613800138000"})
    r = await client.post("/v1/auth/token", json={"phone": "+8613800138000", "code": r.json()["dev_code"]})
    assert r.headers["cache-control"] == "no-store"
    r = await refresh(client, r.json()["refresh_token"])
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"


async def test_a_refresh_gives_a_new_pair_in_the_same_session(client):
    first = await login(client)
    r = await refresh(client, first["refresh_token"])
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["user"]["id"] == first["user"]["id"] and second["token_type"] == "bearer"
    sid = jwt.decode(second["access_token"], options={"verify_signature": False})["sid"]
    assert sid == jwt.decode(first["access_token"], options={"verify_signature": False})["sid"]
    assert (await client.get("/v1/me", headers=bearer(second))).status_code == 200
    # The next refresh token works too: rotation goes on.
    assert (await refresh(client, second["refresh_token"])).status_code == 200


async def test_a_spent_refresh_token_revokes_its_whole_family(client):
    first = await login(client)
    other_device = await login(client)  # the same person's other session is not touched
    second = (await refresh(client, first["refresh_token"])).json()
    r = await refresh(client, first["refresh_token"])  # replayed: stolen, or a client bug
    assert r.status_code == 401 and error_code(r) == "unauthenticated"
    for pair in (first, second):
        assert (await client.get("/v1/me", headers=bearer(pair))).status_code == 401
    assert (await refresh(client, second["refresh_token"])).status_code == 401
    assert (await client.get("/v1/me", headers=bearer(other_device))).status_code == 200
    assert (await refresh(client, other_device["refresh_token"])).status_code == 200


async def test_logout_ends_the_session_at_once(client):
    pair = await login(client)
    other_device = await login(client)
    r = await client.post("/v1/auth/logout", headers=bearer(pair))
    assert r.status_code == 204 and r.content == b""
    r = await client.get("/v1/me", headers=bearer(pair))
    assert r.status_code == 401 and r.json()["error"]["message"] == "session ended"
    assert (await refresh(client, pair["refresh_token"])).status_code == 401
    assert (await client.post("/v1/auth/logout", headers=bearer(pair))).status_code == 401
    assert (await client.get("/v1/me", headers=bearer(other_device))).status_code == 200


@pytest.mark.parametrize(
    "body",
    [{}, {"refresh_token": ""}, {"refresh_token": 5}, {"refresh_token": "x" * 300}, {"refresh_token": None}],
)
async def test_a_malformed_refresh_is_422(client, body):
    r = await client.post("/v1/auth/refresh", json=body)
    assert r.status_code == 422 and error_code(r) == "validation_error"


async def test_unknown_and_expired_refresh_tokens_are_401(client, rt):
    assert (await refresh(client, "not-a-token-we-ever-issued-000000")).status_code == 401
    rt.settings = rt.settings.model_copy(update={"refresh_token_ttl_s": 1})
    pair = await login(client)
    from sqlalchemy import update

    from app.auth.models import RefreshToken

    async with rt.sessionmaker() as db, db.begin():  # expiry is real time: age the row
        await db.execute(update(RefreshToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    r = await refresh(client, pair["refresh_token"])
    assert r.status_code == 401 and r.json()["error"]["message"] == "refresh token expired"


async def test_an_expired_access_token_is_refreshed(client, rt):
    rt.settings = rt.settings.model_copy(update={"access_token_ttl_s": 1})
    pair = await login(client)
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    expired = jwt.encode(
        {**claims, "exp": claims["iat"] - 1}, rt.settings.secret_key, algorithm="HS256"
    )  # the same session, past its expiry
    r = await client.get("/v1/me", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and r.json()["error"]["message"] == "token expired"
    assert (await refresh(client, pair["refresh_token"])).status_code == 200


async def test_moving_the_dev_clock_logs_nobody_out(client, rt):
    pair = await login(client)
    await rt.advance_clock(30 * 24 * 3600)
    assert (await client.get("/v1/me", headers=bearer(pair))).status_code == 200
    assert (await refresh(client, pair["refresh_token"])).status_code == 200


async def test_tokens_without_a_session_are_refused_in_prod(client, rt, users):
    alice = await users.make("alice")  # tests mint sessionless tokens with the secret key
    assert (await client.get("/v1/me", headers=alice.headers)).status_code == 200
    rt.settings = rt.settings.model_copy(update={"env": "prod"})
    r = await client.get("/v1/me", headers=alice.headers)
    assert r.status_code == 401 and error_code(r) == "unauthenticated"
    forged_session = tokens.issue(rt.settings, alice.id, session_id="s_made_up")
    assert (
        await client.get("/v1/me", headers={"Authorization": f"Bearer {forged_session}"})
    ).status_code == 401


@pytest.mark.real_backends
async def test_logout_closes_the_sessions_sockets_on_every_worker(settings):
    async with running_servers(settings, count=2) as (a, b):
        async with httpx.AsyncClient(base_url=a.url) as client:
            pair = await login(client, "+8613800138055")
            other = await login(client, "+8613800138055")
            async with (
                ws_connect(a, token=pair["access_token"]) as on_a,
                ws_connect(b, token=pair["access_token"]) as on_b,
                ws_connect(b, token=other["access_token"]) as other_session,
            ):
                await on_a.roundtrip()
                await on_b.roundtrip()
                r = await client.post("/v1/auth/logout", headers=bearer(pair))
                assert r.status_code == 204
                for sock in (on_a, on_b):
                    with pytest.raises(websockets.ConnectionClosed) as closed:
                        await sock.expect("never", wait_s=10)
                    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
                await other_session.roundtrip()  # the other session's socket stays open
            # Reconnecting with the ended session's token is refused (4401): refresh or log in.
            with pytest.raises(websockets.ConnectionClosed) as refused:
                async with ws_connect(b, token=pair["access_token"]):
                    pass
            assert refused.value.rcvd is not None and refused.value.rcvd.code == 4401
            fresh = (await refresh(client, other["refresh_token"])).json()
            async with ws_connect(a, token=fresh["access_token"]) as again:
                await again.roundtrip()
