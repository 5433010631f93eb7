"""Issue 14 item 2: /docs and /redoc work without internet — their scripts come from the
service (the installed ``fastapi-offline`` package), checked in HTML and in headless Chromium
with every request off the service's own address refused."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.console import browser as b

ASSET = re.compile(r"""(?:src|href|url)\s*[=:(]\s*['"]?([^'"\s)>]+)""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_reference_only_local_assets_that_serve(client, page):
    r = await client.get(page)
    assert r.status_code == 200
    assert "http://" not in r.text and "https://" not in r.text and "//cdn" not in r.text, r.text
    urls = {u for u in ASSET.findall(r.text) if u.startswith("/docs/assets/")}
    assert any(u.endswith(".js") for u in urls), r.text
    for url in urls:
        served = await client.get(url)
        assert served.status_code == 200, url
        if url.endswith(".js"):
            assert served.headers["content-type"].startswith("text/javascript")
            assert len(served.content) > 100_000  # the real bundle, not a stub
    assert (await client.get("/docs/assets/../../app/config.py")).status_code == 404
    assert (await client.get("/docs/assets/index.html")).status_code == 404


@pytest.fixture
async def server(app) -> AsyncIterator[str]:
    async with b.serve(app) as base:
        yield base


@pytest.fixture
async def chrome() -> AsyncIterator[Any]:
    b.require_browser()
    async with b.chromium() as browser:
        yield browser


async def offline_page(chrome: Any, base: str) -> tuple[Any, list[str]]:
    """A page whose every request to anywhere but ``base`` is refused (as with no internet)."""
    page = await b.new_page(chrome, lang="en-US")
    refused: list[str] = []

    async def only_local(route: Any) -> None:
        if route.request.url.startswith(base):
            await route.continue_()
        else:
            refused.append(route.request.url)
            await route.abort("internetdisconnected")

    await page.context.route("**/*", only_local)
    return page, refused


async def test_swagger_ui_renders_operations_and_authorize_offline(server, chrome):
    page, refused = await offline_page(chrome, server)
    await page.goto(server + "/docs")
    await page.wait_for_selector(".opblock", timeout=20_000)
    assert await page.locator(".opblock").count() > 50
    authorize = page.locator("button.authorize")
    assert await authorize.count() == 1
    assert await page.locator(".opblock .authorization__btn").count() > 20  # the locks
    await authorize.click()
    dialog = page.locator(".modal-ux")
    await dialog.wait_for(timeout=5_000)
    text = await dialog.inner_text()
    assert "BearerAuth" in text and "ServiceToken" in text
    await b.screenshot(page, "docs-swagger-offline")
    assert refused == [] and page.errors == [], (refused, page.errors)


async def test_redoc_renders_offline(server, chrome):
    page, refused = await offline_page(chrome, server)
    await page.goto(server + "/redoc")
    await page.wait_for_selector("li[data-item-id]", timeout=20_000)
    assert await page.locator("li[data-item-id]").count() > 20  # the side menu of operations
    assert "BearerAuth" in await page.locator("body").inner_text()  # "Authorizations:" per operation
    # ReDoc's own "API docs by Redocly" footer links its logo from its CDN: a decoration that
    # is simply not drawn offline. Nothing else may leave the machine.
    assert [u for u in refused if not u.endswith("/logo-mini.svg")] == [], refused
