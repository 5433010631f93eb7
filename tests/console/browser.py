"""Browser tests: Playwright for Python driving the operating system's Chromium.

The browser is Debian's ``chromium`` (``.ci/run`` installs it with ``fonts-noto-cjk``),
launched by path; Playwright never downloads one. Without it the browser tests are
skipped with the reason, except under ``CI=true``, where that is a failure.

``live_server`` serves the test's app (its runtime, database and in-process Redis) with
uvicorn on a free loopback port inside the test's event loop, so a test can drive the
pages, open a client's WebSocket and read the database in one place. Screenshots go to
``var/screenshots/`` (``QUANZI_SCREENSHOTS`` overrides it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("QUANZI_SCREENSHOTS") or ROOT / "var" / "screenshots")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
CI = os.environ.get("CI", "").lower() == "true"


def chromium_path() -> str | None:
    for candidate in (os.environ.get("QUANZI_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def browser_problem() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if chromium_path() is None:
        return "no Chromium at /usr/bin/chromium (apt-get install chromium fonts-noto-cjk)"
    return None


def require_browser() -> None:
    problem = browser_problem()
    if problem is None:
        return
    if CI:
        pytest.fail(f"CI=true: {problem}")
    pytest.skip(problem)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the test runner keeps its own signals
        yield


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    port = free_port()
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)  # polling the server's start, not waiting on business time
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


TABLET = {"width": 820, "height": 1180}
LAPTOP = {"width": 1366, "height": 900}


async def new_page(browser: Any, *, lang: str = "zh-CN", viewport: dict[str, int] | None = None) -> Any:
    context = await browser.new_context(locale=lang, viewport=viewport or LAPTOP, extra_http_headers={})
    page = await context.new_page()
    page.errors = []  # console errors and page errors (CSP violations included)
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return page


async def sign_in(page: Any, base: str, phone: str, *, shot: str | None = None) -> None:
    """Sign in through the pages, reading the code the dev page shows."""
    await page.goto(base + "/console/login")
    await page.fill("input[name=phone]", phone)
    await page.click("button[type=submit]")
    text = await page.text_content("[data-testid=dev-code]")
    code = re.search(r"([0-9]{6})", text or "")
    assert code, text
    if shot:
        await screenshot(page, shot)
    await page.fill("input[name=code]", code.group(1))
    await page.click("button[type=submit]")
    await page.wait_for_load_state("load")


async def screenshot(page: Any, name: str) -> Path:
    await asyncio.to_thread(SHOTS.mkdir, parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def rendered_fonts(page: Any, selector: str) -> set[str]:
    """The fonts Chromium actually drew the text of the first element matching ``selector``
    with (DevTools' CSS.getPlatformFontsForNode): a Chinese text drawn without a CJK font is
    boxes in a screenshot."""
    cdp = await page.context.new_cdp_session(page)
    try:
        await cdp.send("DOM.enable")
        await cdp.send("CSS.enable")
        root = await cdp.send("DOM.getDocument", {"depth": 0})
        found = await cdp.send("DOM.querySelector", {"nodeId": root["root"]["nodeId"], "selector": selector})
        assert found["nodeId"], f"no element {selector}"
        fonts = await cdp.send("CSS.getPlatformFontsForNode", {"nodeId": found["nodeId"]})
        return {f["familyName"] for f in fonts["fonts"] if f.get("glyphCount", 0) > 0}
    finally:
        await cdp.detach()


def is_cjk(fonts: set[str]) -> bool:
    return any("CJK" in f or "Han Sans" in f for f in fonts)
