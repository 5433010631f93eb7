"""Production hardening (issue 12 items 15–17, issue 14 item 17): security headers, who may
read the docs and metrics, dev routes gone in prod, demo data and weak secrets refused
with one line and a non-zero exit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from app import seed as seeding
from app.main import create_app
from app.runtime import Runtime
from tests.app.test_auth import STRONG
from tests.app.test_schema import finished, quanzi


@asynccontextmanager
async def served(
    rt: Runtime, base_url: str = "http://t", **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    rt.settings = rt.settings.model_copy(update=settings)
    application = create_app(runtime=rt, run_jobs=False)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url=base_url) as c,
    ):
        yield c


async def test_every_response_says_nosniff_and_tokens_and_wallets_are_not_stored(client, users):
    alice = await users.make("alice")
    for r in [
        await client.get("/healthz"),
        await client.get("/v1/nope"),
        await client.get("/v1/me"),
        await client.get("/v1/me", headers=alice.headers),
    ]:
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "cache-control" not in r.headers or r.headers["cache-control"] != "no-store"
    for path in ("/v1/wallet", "/v1/wallet/statement"):
        r = await client.get(path, headers=alice.headers)
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    r = await client.post("/v1/auth/otp", json={"phone": "+8613800138000"})
    assert r.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in r.headers  # plain HTTP


async def test_hsts_only_over_tls(rt):
    async with served(rt, base_url="https://t") as c:
        r = await c.get("/healthz")
    assert r.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


@pytest.mark.parametrize("surface", ["/openapi.json", "/docs", "/redoc", "/metrics"])
async def test_docs_and_metrics_can_be_public_behind_the_service_token_or_off(rt, surface):
    setting = "metrics_access" if surface == "/metrics" else "docs_access"
    async with served(rt, **{setting: "public"}) as c:
        assert (await c.get(surface)).status_code == 200
    async with served(rt, **{setting: "service_token"}) as c:
        assert (await c.get(surface)).status_code == 401
        wrong = {"Authorization": "Bearer not-the-service-token"}
        assert (await c.get(surface, headers=wrong)).status_code == 401
        ok = {"Authorization": f"Bearer {rt.settings.service_token}"}
        assert (await c.get(surface, headers=ok)).status_code == 200
    async with served(rt, **{setting: "off"}) as c:
        r = await c.get(surface)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


async def test_in_prod_dev_routes_are_gone_and_docs_need_the_service_token(rt):
    async with served(rt, env="prod", **STRONG) as c:
        assert (await c.get("/openapi.json")).status_code == 401
        assert (await c.get("/metrics")).status_code == 401
        token = {"Authorization": f"Bearer {STRONG['service_token']}"}
        paths = (await c.get("/openapi.json", headers=token)).json()["paths"]
        assert not [p for p in paths if p.startswith("/v1/dev/")]
        assert "/v1/auth/refresh" in paths and "/v1/auth/logout" in paths
        assert (await c.get("/v1/dev/clock")).status_code == 404
        assert (await c.post("/v1/dev/clock", json={"advance_s": 60})).status_code == 404


async def test_demo_data_is_refused_in_prod(rt, settings):
    rt.settings = rt.settings.model_copy(update={"env": "prod", **STRONG})
    with pytest.raises(seeding.SeedRefused):
        await seeding.run(rt)
    code, out, err = await finished(quanzi(settings, "seed", QUANZI_ENV="prod", **env(STRONG)))
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("quanzi: refusing to seed with QUANZI_ENV=prod") and "Traceback" not in out


def env(secrets: dict[str, str]) -> dict[str, str]:
    return {f"QUANZI_{k.upper()}": v for k, v in secrets.items()}


async def test_weak_secrets_in_prod_are_one_line_and_a_non_zero_exit(settings):
    weak = {**env(STRONG), "QUANZI_SERVICE_TOKEN": "x", "QUANZI_CARD_TOKEN_KEY": "dev-card-token-key"}
    code, out, err = await finished(quanzi(settings, "serve", "--port", "1", QUANZI_ENV="prod", **weak))
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err + out
    assert err.startswith("quanzi: refusing to start in prod:")
    assert "QUANZI_SERVICE_TOKEN is shorter than 32 characters" in err
    assert "QUANZI_CARD_TOKEN_KEY is a development default" in err
    assert "QUANZI_SECRET_KEY" not in err and "QUANZI_PHONE_HMAC_KEY" not in err
