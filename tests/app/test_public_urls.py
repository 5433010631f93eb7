"""Absolute URLs (media, referral share links) follow the request, or the configured base."""

from __future__ import annotations

import io

from PIL import Image

from tests.support.apps import client_with


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 10)).save(out, "PNG")
    return out.getvalue()


async def _media_url(client, who, **headers) -> str:
    r = await client.post(
        "/v1/media", files={"file": ("a.png", _png(), "image/png")}, headers=who.headers | headers
    )
    assert r.status_code == 201, r.text
    return r.json()["url"]  # type: ignore[no-any-return]


async def test_media_and_share_urls_use_the_host_the_client_used(rt, users):
    alice = await users.make("alice")
    async with client_with(rt, base_url="http://api.example:9000") as c:
        url = await _media_url(c, alice)
        assert url.startswith("http://api.example:9000/v1/media/m_")
        thumb = (await c.get(url.removeprefix("http://api.example:9000"))).status_code
        assert thumb == 200
        share = (await c.get("/v1/referrals/me", headers=alice.headers)).json()["share_url"]
        assert share.startswith("http://api.example:9000/r/")


async def test_forwarded_headers_are_ignored_from_an_untrusted_peer(rt, users):
    alice = await users.make("alice")
    forged = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
    async with client_with(rt, base_url="http://api.example:9000") as c:  # no trusted proxies
        assert (await _media_url(c, alice, **forged)).startswith("http://api.example:9000/")
    async with client_with(rt, trusted_proxies=["10.0.0.1"], base_url="http://api.example:9000") as c:
        assert (await _media_url(c, alice, **forged)).startswith("http://api.example:9000/")


async def test_a_trusted_proxy_names_the_public_scheme_and_host(rt, users):
    alice = await users.make("alice")
    fwd = {
        "X-Forwarded-Host": "quanzi.bank.example",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-For": "1.2.3.4",
    }
    async with client_with(
        rt, trusted_proxies=["10.0.0.0/8"], peer="10.1.2.3", base_url="http://node7:8000"
    ) as c:
        assert (await _media_url(c, alice, **fwd)).startswith("https://quanzi.bank.example/v1/media/m_")
        r = await c.get("/v1/referrals/me", headers=alice.headers | fwd)
        assert r.json()["share_url"].startswith("https://quanzi.bank.example/r/")


async def test_a_configured_public_base_url_wins(rt, users):
    alice = await users.make("alice")
    async with client_with(
        rt, public_base_url="https://cdn.bank.example/quanzi/", base_url="http://node7:8000"
    ) as c:
        assert (await _media_url(c, alice)).startswith("https://cdn.bank.example/quanzi/v1/media/m_")


async def test_a_bad_host_header_falls_back_to_the_server_address(rt, users):
    alice = await users.make("alice")
    async with client_with(rt, base_url="http://node7:8000") as c:
        url = await _media_url(c, alice, Host="evil.example/<x>")
        assert "evil" not in url and "<" not in url
