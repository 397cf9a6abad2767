"""Headless Debian Chromium via Playwright for the console tests, and the screenshots they keep."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1366, "height": 768}  # the helpdesk's desk PCs


async def launch() -> AsyncIterator[Any]:
    required = os.environ.get("CTI_REQUIRE_PEERS") == "1"
    try:
        from playwright import async_api as playwright_api
    except ImportError:
        if required:
            pytest.fail("playwright is not installed (test extra)")
        pytest.skip("playwright is not installed")
    if shutil.which(CHROMIUM) is None:
        if required:
            pytest.fail(f"{CHROMIUM} missing (Debian package chromium)")
        pytest.skip("no Chromium")
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


def artefact_dir(tmp_path: Path) -> Path:
    """Screenshots go to $CTI_TEST_ARTEFACTS/console (kept by CI) or the test's tmp dir."""
    root = os.environ.get("CTI_TEST_ARTEFACTS")
    folder = Path(root) / "console" if root else tmp_path / "artefacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def new_page(browser: Any) -> Any:
    # bypass_csp: axe-core is injected by the test, not served by the console
    context = await browser.new_context(viewport=VIEWPORT, locale="ja-JP", bypass_csp=True)
    return await context.new_page()


async def screen(page: Any, folder: Path, name: str, *, full_page: bool = False) -> None:
    """Keep a screenshot of this screen and check it with axe-core: no serious or critical
    accessibility violation."""
    await page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)
    try:
        from axe_playwright_python.async_playwright import Axe
    except ImportError:
        if os.environ.get("CTI_REQUIRE_PEERS") == "1":
            pytest.fail("axe-playwright-python is not installed (test extra)")
        return
    results = await Axe().run(page)
    bad = [f"{v['id']} ({v['impact']}): {v['help']} at "
           + ", ".join(str(n["target"]) for n in v["nodes"][:5])
           for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == [], f"{name}: " + "; ".join(bad)


async def login(page: Any, base: str, user: str, password: str) -> None:
    await page.goto(f"{base}/")
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", password)
    await page.click("#login button[type=submit]")
    await page.wait_for_selector("#who:not([hidden])", timeout=10_000)
