from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from app.config import DEFAULT_SECRET, ConfigError, Settings, load_settings
from tests.support.cards import card_token
from tests.support.people import error_code


async def login(client, phone: str) -> dict:
    r = await client.post("/v1/auth/otp", json={"phone": phone})
    assert r.status_code == 202, r.text
    code = r.json()["dev_code"]
    r = await client.post("/v1/auth/token", json={"phone": phone, "code": code})
    assert r.status_code == 200, r.text
    return r.json()


async def test_first_login_creates_user_and_second_finds_it(client):
    first = await login(client, "138 0013 8000")
    again = await login(client, "+86 138-0013-8000")
    assert first["user"]["id"] == again["user"]["id"]
    assert first["token_type"] == "bearer"
    assert first["user"]["phone_masked"] == "+86 138****8000"
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {again['access_token']}"})
    assert me.status_code == 200
    assert me.json()["roles"] == ["user"]
    assert me.json()["is_cardholder"] is False


async def test_wrong_code_is_unauthenticated_and_tries_are_limited(client):
    r = await client.post("/v1/auth/otp", json={"phone": "13800138000"})
    code = r.json()["dev_code"]
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        r = await client.post("/v1/auth/token", json={"phone": "13800138000", "code": wrong})
        assert r.status_code == 401
        assert error_code(r) == "unauthenticated"
    r = await client.post("/v1/auth/token", json={"phone": "13800138000", "code": code})
    assert r.status_code == 429
    assert r.headers["Retry-After"]


async def test_code_is_single_use(client):
    r = await client.post("/v1/auth/otp", json={"phone": "13800138000"})
    code = r.json()["dev_code"]
    assert (
        await client.post("/v1/auth/token", json={"phone": "13800138000", "code": code})
    ).status_code == 200
    r = await client.post("/v1/auth/token", json={"phone": "13800138000", "code": code})
    assert r.status_code == 401


async def test_otp_sends_to_one_phone_back_off_with_growing_waits(client, rt):
    phone = {"phone": "13800138000"}
    for _ in range(3):  # otp_free_sends
        assert (await client.post("/v1/auth/otp", json=phone)).status_code == 202
    for wait_s in (60, 120, 240, 480):
        r = await client.post("/v1/auth/otp", json=phone)
        assert r.status_code == 429, r.text
        assert error_code(r) == "rate_limited"
        assert int(r.headers["Retry-After"]) == wait_s
        rt.clock.advance(wait_s - 1)
        assert (await client.post("/v1/auth/otp", json=phone)).status_code == 429
        rt.clock.advance(1)
        assert (await client.post("/v1/auth/otp", json=phone)).status_code == 202
    # Another phone from the same address is still fine (carrier NAT).
    assert (await client.post("/v1/auth/otp", json={"phone": "13800138001"})).status_code == 202
    # The waits stop growing at an hour, and a quiet day starts over.
    for _ in range(4):
        r = await client.post("/v1/auth/otp", json=phone)
        rt.clock.advance(int(r.headers["Retry-After"]))
        assert (await client.post("/v1/auth/otp", json=phone)).status_code == 202
    assert int((await client.post("/v1/auth/otp", json=phone)).headers["Retry-After"]) == 3600
    rt.clock.advance(24 * 3600)
    for _ in range(3):
        assert (await client.post("/v1/auth/otp", json=phone)).status_code == 202


async def test_a_login_starts_the_send_backoff_over(client):
    phone = {"phone": "13800138000"}
    for _ in range(3):
        code = (await client.post("/v1/auth/otp", json=phone)).json()["dev_code"]
    assert (await client.post("/v1/auth/otp", json=phone)).status_code == 429
    assert (await client.post("/v1/auth/token", json=phone | {"code": code})).status_code == 200
    assert (await client.post("/v1/auth/otp", json=phone)).status_code == 202


async def test_a_strangers_wrong_codes_do_not_burn_the_owners_code(rt, client):
    from tests.support.apps import client_with

    phone = {"phone": "13800138000"}
    code = (await client.post("/v1/auth/otp", json=phone)).json()["dev_code"]
    wrong = "000000" if code != "000000" else "111111"
    async with client_with(rt, peer="198.51.100.7") as stranger:
        for _ in range(5):
            r = await stranger.post("/v1/auth/token", json=phone | {"code": wrong})
            assert r.status_code == 401
        for guess in (wrong, code):  # locked out for this number, even with the right code
            r = await stranger.post("/v1/auth/token", json=phone | {"code": guess})
            assert r.status_code == 429 and error_code(r) == "rate_limited"
            assert 0 < int(r.headers["Retry-After"]) <= rt.settings.otp_ttl_s
    r = await client.post("/v1/auth/token", json=phone | {"code": code})  # the owner, elsewhere
    assert r.status_code == 200, r.text


async def test_forwarded_for_counts_only_from_a_trusted_proxy(rt):
    from tests.support.apps import client_with

    phone = {"phone": "13800138000"}
    async with client_with(rt) as direct:
        code = (await direct.post("/v1/auth/otp", json=phone)).json()["dev_code"]
    wrong = "000000" if code != "000000" else "111111"
    # A direct client cannot spread its guesses over made-up addresses.
    async with client_with(rt, peer="198.51.100.7") as c:
        for n in range(5):
            hdr = {"X-Forwarded-For": f"203.0.113.{n}"}
            assert (
                await c.post("/v1/auth/token", json=phone | {"code": wrong}, headers=hdr)
            ).status_code == 401
        r = await c.post(
            "/v1/auth/token", json=phone | {"code": code}, headers={"X-Forwarded-For": "203.0.113.99"}
        )
        assert r.status_code == 429
    # Behind the trusted proxy, each forwarded client has its own count.
    async with client_with(rt, peer="10.0.0.2", trusted_proxies=["10.0.0.2"]) as proxied:
        for _ in range(5):
            hdr = {"X-Forwarded-For": "203.0.113.50"}
            assert (
                await proxied.post("/v1/auth/token", json=phone | {"code": wrong}, headers=hdr)
            ).status_code == 401
        assert (
            await proxied.post(
                "/v1/auth/token", json=phone | {"code": code}, headers={"X-Forwarded-For": "203.0.113.50"}
            )
        ).status_code == 429
        r = await proxied.post(
            "/v1/auth/token", json=phone | {"code": code}, headers={"X-Forwarded-For": "203.0.113.51"}
        )
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("phone", ["", "12", "not a phone", "+86 123", "1" * 30])
async def test_bad_phone_is_validation_error(client, phone):
    r = await client.post("/v1/auth/otp", json={"phone": phone})
    assert r.status_code == 422
    assert error_code(r) == "validation_error"


async def test_me_requires_a_valid_token(client, rt, users):
    alice = await users.make("alice")
    assert (await client.get("/v1/me")).status_code == 401
    assert (await client.get("/v1/me", headers={"Authorization": "Bearer nonsense"})).status_code == 401
    assert (await client.get("/v1/me", headers={"Authorization": "Basic abc"})).status_code == 401
    expired = jwt.encode(
        {"sub": alice.id, "typ": "access", "exp": datetime.now(UTC) - timedelta(seconds=5)},
        rt.settings.secret_key,
        algorithm="HS256",
    )
    r = await client.get("/v1/me", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "token expired"
    forged = jwt.encode(
        {"sub": alice.id, "typ": "access", "exp": datetime.now(UTC) + timedelta(hours=1)},
        "another-secret-another-secret-000",
        algorithm="HS256",
    )
    assert (await client.get("/v1/me", headers={"Authorization": f"Bearer {forged}"})).status_code == 401


async def test_patch_me_changes_only_my_profile(client, users):
    alice = await users.make("alice")
    bob = await users.make("bob")
    r = await client.patch(
        "/v1/me", json={"display_name": "Alice Z", "discoverable": False}, headers=alice.headers
    )
    assert r.status_code == 200
    assert r.json()["display_name"] == "Alice Z"
    assert r.json()["discoverable"] is False
    assert (await client.get("/v1/me", headers=bob.headers)).json()["display_name"] == "bob"
    r = await client.patch("/v1/me", json={"display_name": ""}, headers=alice.headers)
    assert r.status_code == 422


async def test_linking_a_card_makes_a_cardholder_and_is_idempotent(client, rt, users):
    alice = await users.make("alice", cardholder=False)
    body = {"card_token": card_token(rt, alice.id, card_ref="bank-card-1"), "last4": "4321"}
    r1 = await client.post("/v1/me/cards", json=body, headers=alice.headers)
    r2 = await client.post("/v1/me/cards", json=body, headers=alice.headers)
    assert r1.status_code == r2.status_code == 201
    assert r1.json()["id"] == r2.json()["id"]
    assert (await client.get("/v1/me", headers=alice.headers)).json()["is_cardholder"] is True
    r = await client.post("/v1/me/cards", json={**body, "last4": "12a4"}, headers=alice.headers)
    assert r.status_code == 422


STRONG = {
    "secret_key": "s3cr3t-" + "0123456789abcdef" * 2,
    "service_token": "svc-" + "fedcba9876543210" * 2,
    "phone_hmac_key": "phone-" + "a1b2c3d4e5f6g7h8" * 2,
    "card_token_key": "card-" + "q9w8e7r6t5y4u3i2" * 2,
}


@pytest.mark.parametrize("name", sorted(STRONG))
@pytest.mark.parametrize(
    ("value", "why"),
    [
        (None, "is a development default"),
        ("x", "is shorter than 32 characters"),
        ("ab" * 20, "has fewer than 8 distinct characters"),
    ],
)
def test_prod_refuses_every_weak_secret_naming_it(name, value, why):
    weak = {**STRONG, name: value if value is not None else getattr(Settings(), name)}
    with pytest.raises(ConfigError) as refused:
        load_settings(env="prod", **weak)
    message = str(refused.value)
    assert "\n" not in message
    assert f"QUANZI_{name.upper()} {why}" in message
    assert all(f"QUANZI_{other.upper()}" not in message for other in STRONG if other != name)


def test_prod_starts_with_strong_secrets_and_dev_with_the_defaults():
    ok = load_settings(env="prod", **STRONG)
    assert ok.secret_key != DEFAULT_SECRET
    assert load_settings(env="dev").secret_key == DEFAULT_SECRET


async def test_dev_endpoints_are_absent_in_prod(rt):
    import httpx

    from app.main import create_app

    prod = rt.settings.model_copy(update={"env": "prod"})
    rt.settings = prod
    application = create_app(runtime=rt, run_jobs=False)
    async with application.router.lifespan_context(application):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://t"
        ) as c:
            assert (await c.get("/v1/dev/clock")).status_code == 404
            r = await c.post("/v1/auth/otp", json={"phone": "13800138000"})
            assert r.status_code == 202
            assert r.json()["dev_code"] is None


async def test_otp_is_rate_limited_per_client_address(client, rt):
    rt.settings.otp_per_ip_per_hour = 3
    for n in range(3):
        assert (await client.post("/v1/auth/otp", json={"phone": f"1380013800{n}"})).status_code == 202
    r = await client.post("/v1/auth/otp", json={"phone": "13800138009"})
    assert r.status_code == 429
    assert error_code(r) == "rate_limited"


async def test_codes_are_stored_hashed_and_expire_in_five_minutes(client, rt):
    from app.auth import otp, phones

    r = await client.post("/v1/auth/otp", json={"phone": "13800138000"})
    code = r.json()["dev_code"]
    key = otp.code_key(rt, phones.phone_hash("+8613800138000", rt.settings.phone_hmac_key))
    stored = await rt.redis.hgetall(key)
    assert code not in stored.values()
    assert 0 < await rt.redis.ttl(key) <= 300
