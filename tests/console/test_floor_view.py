"""The supervisor's floor in real headless Chromium: a waiting call is moved and then handed to
an operator, an operator's state is forced, an incident notice with a priority change goes up,
and today's figures change after a real call. A manager sees the board without the controls."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from browser_support import artefact_dir, login, new_page, screen
from console_support import PASSWORDS, call_to_menu, settle

from cti.auth import digest, new_secret
from cti.keys import CALL_CENTER, SESSIONS, SETTINGS
from cti.sip.memory import MemoryPhoneNetwork, OperatorBehaviour
from cti.storage.users import add_token

OP01_URI = "sip:2201@127.0.0.1:5070"
OP02_URI = "sip:2202@127.0.0.1:5070"


async def put_state(server: Any, operator_id: str, state: str) -> None:
    secret = new_secret()
    await add_token(server.app[SESSIONS], f"phone-{operator_id}-{state}", "operator", digest(secret),
                    datetime.now(UTC), operator_id=operator_id)
    async with aiohttp.ClientSession() as http:
        response = await http.put(server.make_url(f"/api/operators/{operator_id}/state"),
                                  json={"state": state, "reason": "break" if state == "away" else ""},
                                  headers={"Authorization": f"Bearer {secret}"})
        assert response.status == 200, await response.text()


async def test_supervisor_moves_takes_forces_declares_and_sees_the_figures(
    browser: Any, console: tuple[Any, MemoryPhoneNetwork], tmp_path: Path
) -> None:
    server, network = console
    base = str(server.make_url("")).rstrip("/")
    shots = artefact_dir(tmp_path)
    center = server.app[CALL_CENTER]
    network.set_operator(OP01_URI, OperatorBehaviour.RING)
    network.set_operator(OP02_URI, OperatorBehaviour.RING)
    await put_state(server, "op01", "away")  # logged in but not taking calls: the call waits
    await put_state(server, "op04", "away")

    page = await new_page(browser)
    await login(page, base, "sv01", PASSWORDS["sv01"])
    await page.wait_for_selector("#floor-view:not([hidden])", timeout=10_000)
    await page.wait_for_selector("#kpis tbody tr[data-service=skysea]", timeout=10_000)
    await page.wait_for_selector("body[data-live='1']", timeout=10_000)
    assert await page.locator("#kpis tbody tr").count() == len(server.app[SETTINGS].services)
    skysea_before = await page.inner_text("#kpis tbody tr[data-service=skysea]")

    call_id = await call_to_menu(server.app, network)
    network.press(call_id, "1")  # isolation: op01 and op04 are away, so it waits
    row = f"#waiting tr[data-call='{call_id}']"
    await page.wait_for_selector(row, timeout=10_000)
    assert "インターネット分離環境" in await page.inner_text(row)
    await screen(page, shots, "floor-waiting")

    await page.check(f"{row} input[name=waiting-call]")
    await page.select_option("#move-to", "skysea")  # op02 has SKYSEA, but is offline
    await page.click("#move")
    await page.wait_for_selector(f"{row}:has-text('SKYSEA')", timeout=10_000)
    assert center.router.call(call_id).service == "skysea"

    await page.select_option("#floor-operators tr[data-operator=op04] select.force-state", "offline")
    await page.click("#floor-operators tr[data-operator=op04] button.force")
    await page.wait_for_selector("#floor-operators tr[data-operator=op04][data-state=offline]",
                                 timeout=10_000)

    await page.fill("#incident-ja", "現在、SKYSEAで障害が発生しています")
    await page.fill("#incident-en", "SKYSEA is down")
    await page.select_option("#incident-service", "skysea")
    await page.select_option("#incident-delta", "2")
    await page.click("#incident-form button[type=submit]")
    await page.wait_for_selector("#incident-now:has-text('障害が発生')", timeout=10_000)
    await page.wait_for_selector("#kpis tbody tr[data-service=skysea] td:has-text('+2')",
                                 timeout=10_000)

    await page.check(f"{row} input[name=waiting-call]")
    await page.select_option("#take-by", "op01")
    await page.click("#take")
    async with asyncio.timeout(10):
        await center.wait_for(lambda: network.call(call_id).operator_uri == OP01_URI)
    network.operator_answers(call_id)
    await settle(server.app, lambda: network.call(call_id).state.name == "BRIDGED")
    await page.wait_for_selector("#floor-operators tr[data-operator=op01][data-state=on_call]",
                                 timeout=10_000)
    network.caller_hangs_up(call_id)
    await settle(server.app, lambda: call_id not in center.active_calls)
    # Today's figures for SKYSEA: offered and answered moved, with a service level and an AHT.
    cells = "#kpis tbody tr[data-service=skysea] td"
    async with asyncio.timeout(10):
        while (await page.inner_text("#kpis tbody tr[data-service=skysea]")) == skysea_before or \
                (await page.locator(cells).nth(3).inner_text()) != "1":
            await page.wait_for_timeout(100)
    # waiting, longest, offered, answered, abandoned, service level, ASA, AHT, priority
    figures = [await page.locator(cells).nth(i).inner_text() for i in range(9)]
    assert figures[3:6] == ["1", "0", "100%"] and figures[7] != "—", figures
    isolation = "#kpis tbody tr[data-service=isolation] td"
    assert await page.locator(isolation).nth(2).inner_text() == "1"  # offered: the menu choice
    await page.wait_for_selector("#floor-alerts li", timeout=10_000)
    await screen(page, shots, "floor", full_page=True)

    manager = await new_page(browser)
    await login(manager, base, "mgr01", PASSWORDS["mgr01"])
    await manager.wait_for_selector("#kpis tbody tr[data-service=skysea]", timeout=10_000)
    assert await manager.locator("#incident-form").is_hidden()
    assert await manager.locator("#floor-operators button.force").count() == 0
