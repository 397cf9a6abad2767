"""The operator's desk in real headless Chromium at 1366×768: a user bound to an operator takes
a real call (in-memory phone network through the whole service), completes the ticket with the
masked preview, reloads mid-call and gets the pop and the form back from the server's state."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from browser_support import artefact_dir, login, new_page, screen
from console_support import PASSWORDS, call_to_menu

from cti.keys import CALL_CENTER, SESSIONS
from cti.sip.memory import MemoryPhoneNetwork, OperatorBehaviour
from cti.storage import tickets as store

OP02_URI = "sip:2202@127.0.0.1:5070"


async def test_a_bound_operator_takes_a_call_and_a_reload_keeps_the_pop_and_the_form(
    browser: Any, console: tuple[Any, MemoryPhoneNetwork], tmp_path: Path
) -> None:
    server, network = console
    base = str(server.make_url("")).rstrip("/")
    shots = artefact_dir(tmp_path)
    page = await new_page(browser)
    wrong = await new_page(browser)
    await wrong.goto(f"{base}/")
    await wrong.fill("input[name=username]", "alice")
    await wrong.fill("input[name=password]", "nope")
    await wrong.click("#login button[type=submit]")
    await wrong.wait_for_selector("#login-error:has-text('パスワードが違います')", timeout=10_000)
    await screen(wrong, shots, "login")

    await login(page, base, "alice", PASSWORDS["alice"])
    await page.wait_for_selector("#idle-note:has-text('受付可にすると')", timeout=10_000)
    await screen(page, shots, "operator-idle")
    network.set_operator(OP02_URI, OperatorBehaviour.RING)
    await page.wait_for_selector("body[data-live='1']", timeout=10_000)
    await page.keyboard.press("F2")  # 受付可
    await page.wait_for_selector("#my-state:has-text('受付可')", timeout=10_000)

    call_id = await call_to_menu(server.app, network)
    network.press(call_id, "2")  # SKYSEA: op02
    await page.wait_for_selector("#call:not([hidden])", timeout=10_000)
    assert "SKYSEA" in await page.inner_text("#call-service")
    assert await page.inner_text("#call-caller") == "2345"
    await page.wait_for_selector("#ticket:not([hidden])", timeout=10_000)
    reference = await page.inner_text("#ticket-ref")
    assert reference.startswith("HD-")
    network.operator_answers(call_id)
    await page.wait_for_selector("#my-state:has-text('通話中')", timeout=10_000)

    await page.select_option("#category", "USB・デバイス利用申請")
    await page.fill("#summary", "総務課の山田さん（携帯090-1234-5678）からUSBメモリが使えないと連絡")
    await page.wait_for_selector("#preview:has-text('[電話番号]')", timeout=10_000)
    await page.wait_for_selector("#similar li:has-text('USB一時利用申請')", timeout=10_000)
    preview = await page.inner_text("#preview")
    assert "090-1234-5678" not in preview and "[氏名]" in preview
    await page.fill("#answer", "SKYSEAの一時利用申請を案内")
    await page.keyboard.press("Control+Enter")
    await page.wait_for_selector("#saved:has-text('保存しました')", timeout=10_000)
    await screen(page, shots, "operator-call")

    await page.reload()  # mid-call: everything comes back from the server
    await page.wait_for_selector("#call:not([hidden])", timeout=10_000)
    await page.wait_for_selector(f"#ticket-ref:has-text('{reference}')", timeout=10_000)
    assert "[電話番号]" in await page.input_value("#summary")
    assert "通話中" in await page.inner_text("#my-state")
    assert "SKYSEA" in await page.inner_text("#call-service")
    await page.wait_for_selector(f"#my-tickets li:has-text('{reference}')", timeout=10_000)
    await page.wait_for_selector("body[data-live='1']", timeout=10_000)  # events flow again

    network.caller_hangs_up(call_id)
    await page.wait_for_selector("#wrap-up:not([hidden])", timeout=10_000)
    await page.keyboard.press("F4")  # more after-call time
    await page.wait_for_selector("#state-message:has-text('延長しました')", timeout=10_000)
    await page.select_option("#status", "resolved")
    await page.click("#ticket-form button[type=submit]")
    await page.wait_for_selector("#saved:has-text('保存しました')", timeout=10_000)
    await page.fill("#kb-query", "USBメモリ")
    await page.click("#kb-form button[type=submit]")
    await page.wait_for_selector("#kb-results li:has-text('USB一時利用申請')", timeout=10_000)
    await screen(page, shots, "operator-wrap-up")

    await page.select_option("#away-reason", "meeting")
    await page.keyboard.press("F3")
    await page.wait_for_selector("#my-state:has-text('会議')", timeout=10_000)
    async with asyncio.timeout(10):
        await server.app[CALL_CENTER].wait_for(lambda: not server.app[CALL_CENTER].active_calls)
    found = await store.list_tickets(server.app[SESSIONS], store.TicketFilter())
    assert len(found) == 1 and found[0].reference == reference
    assert "090-1234-5678" not in found[0].summary and "[電話番号]" in found[0].summary
    assert found[0].status == "resolved" and found[0].category == "USB・デバイス利用申請"
    assert found[0].operator_id == "op02"
