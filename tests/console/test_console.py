"""The browser console in real headless Chromium (Debian's), driven by Playwright.

An operator logs in, becomes available, gets the screen pop of a real call through the service
(in-memory phone network), types the summary with personal data, sees the masked preview and
saves; the stored ticket holds only the masked text. A supervisor sees the floor.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cti.app import build_app
from cti.auth import hash_password
from cti.config import Settings
from cti.keys import CALL_CENTER, SESSIONS, SETTINGS
from cti.sip.memory import MemoryPhoneNetwork, OperatorBehaviour
from cti.storage import knowledge
from cti.storage import tickets as store
from cti.storage.users import add_user

CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
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


@pytest.fixture
async def desk(aiohttp_server: Callable[..., Any], make_settings: Callable[..., Settings],
               tmp_path: Path) -> AsyncIterator[tuple[Any, MemoryPhoneNetwork]]:
    network = MemoryPhoneNetwork()
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'console.db'}",
                             CTI_HOURS_OVERRIDE="open")
    from cti.storage import create_engine, upgrade

    engine = create_engine(settings.database.url)
    await upgrade(engine)
    await engine.dispose()
    server = await aiohttp_server(build_app(settings, control=network), host="127.0.0.1")
    now = datetime.now(UTC)
    await add_user(server.app[SESSIONS], "op02", "operator", hash_password("pw-op02-console"), now,
                   operator_id="op02")
    await add_user(server.app[SESSIONS], "sv01", "supervisor", hash_password("pw-sv01-console"), now)
    await knowledge.create_article(server.app[SESSIONS], "skysea", knowledge.ArticleText(
        title="USBメモリが使えない", question="USBメモリを挿しても使えない",
        answer="SKYSEAでUSB一時利用申請を出してもらう"), "sv01", now)
    yield server, network


async def login(page: Any, base: str, user: str, password: str) -> None:
    await page.goto(f"{base}/")
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", password)
    await page.click("#login button[type=submit]")
    await page.wait_for_selector("#who:not([hidden])", timeout=10_000)


async def test_operator_takes_a_call_and_completes_the_ticket(
    browser: Any, desk: tuple[Any, MemoryPhoneNetwork], tmp_path: Path
) -> None:
    server, network = desk
    base = str(server.make_url("")).rstrip("/")
    center = server.app[CALL_CENTER]
    page = await browser.new_page()
    wrong = await browser.new_page()
    await wrong.goto(f"{base}/")
    await wrong.fill("input[name=username]", "op02")
    await wrong.fill("input[name=password]", "nope")
    await wrong.click("#login button[type=submit]")
    await wrong.wait_for_selector("#login-error:has-text('パスワードが違います')", timeout=10_000)

    await login(page, base, "op02", "pw-op02-console")
    network.set_operator("sip:2202@127.0.0.1:5070", OperatorBehaviour.RING)
    await page.select_option("#state", "available")
    await page.wait_for_selector("#my-state:has-text('受付可')", timeout=10_000)

    call_id = network.dial(caller="2345")
    async with asyncio.timeout(10):
        await center.wait_for(lambda: network.call(call_id).playing == ("greeting",))
    network.finish_playback(call_id)
    async with asyncio.timeout(10):
        await center.wait_for(lambda: network.call(call_id).playing is not None
                              and network.call(call_id).playing[0].startswith("menu_"))
    network.press(call_id, "2")  # SKYSEA
    await page.wait_for_selector("#call:not([hidden])", timeout=10_000)
    assert "SKYSEA" in await page.inner_text("#call-service")
    assert await page.inner_text("#call-caller") == "2345"
    await page.wait_for_selector("#ticket:not([hidden])", timeout=10_000)
    reference = await page.inner_text("#ticket-ref")
    assert reference.startswith("HD-")

    await page.select_option("#category", "USB・デバイス利用申請")
    await page.fill("#summary", "総務課の山田さん（携帯090-1234-5678）からUSBメモリが使えないと連絡")
    await page.wait_for_selector("#preview:has-text('[電話番号]')", timeout=10_000)
    await page.wait_for_selector("#similar li:has-text('USB一時利用申請')", timeout=10_000)
    preview = await page.inner_text("#preview")
    assert "090-1234-5678" not in preview and "[氏名]" in preview
    await page.fill("#answer", "SKYSEAの一時利用申請を案内")
    await page.select_option("#status", "resolved")
    await page.click("#ticket-form button[type=submit]")
    await page.wait_for_selector("#saved:has-text('保存しました')", timeout=10_000)
    await page.screenshot(path=str(tmp_path / "operator.png"), full_page=True)

    found = await store.list_tickets(server.app[SESSIONS], store.TicketFilter())
    assert len(found) == 1 and found[0].reference == reference
    assert "090-1234-5678" not in found[0].summary and "[電話番号]" in found[0].summary
    assert found[0].status == "resolved" and found[0].category == "USB・デバイス利用申請"

    supervisor = await browser.new_page()
    await login(supervisor, base, "sv01", "pw-sv01-console")
    await supervisor.wait_for_selector("#floor:not([hidden])", timeout=10_000)
    await supervisor.wait_for_selector("#operators tr[data-operator=op02]", timeout=10_000)
    row = await supervisor.inner_text("#operators tr[data-operator=op02]")
    assert "呼出中" in row  # still ringing: the memory operator has not answered
    assert await supervisor.locator("#queues tbody tr").count() == len(server.app[SETTINGS].services)
