"""The admin adds an operator with a skill on the admin screen, binds a user to them, and that
operator takes a real call routed by that skill, without a restart (real headless Chromium, the
in-memory phone network through the whole service)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from browser_support import artefact_dir, login, new_page, screen
from console_support import PASSWORDS, call_to_menu, settle

from cti.auth import hash_password
from cti.keys import SESSIONS
from cti.sip.memory import MemoryPhoneNetwork, OperatorBehaviour
from cti.storage import audit
from cti.storage.users import add_user

OP06_URI = "sip:2206@127.0.0.1:5070"


async def test_an_operator_added_on_the_admin_screen_takes_a_call_by_skill(
    browser: Any, console: tuple[Any, MemoryPhoneNetwork], tmp_path: Path
) -> None:
    server, network = console
    base = str(server.make_url("")).rstrip("/")
    shots = artefact_dir(tmp_path)
    await add_user(server.app[SESSIONS], "dave", "operator", hash_password("pw-dave-console"),
                   datetime.now(UTC))

    page = await new_page(browser)
    await login(page, base, "admin", PASSWORDS["admin"])
    await page.click("#tab-admin")
    await page.wait_for_selector("#admin-operators tr[data-operator=op05]", timeout=10_000)
    await page.fill("#operator-add input[name=id]", "op06")
    await page.fill("#operator-add input[name=name]", "新人オペレーター06")
    await page.fill("#operator-add input[name=uri]", OP06_URI)
    await page.select_option("#operator-add label[data-service=licenses] select", "4")
    await page.click("#operator-add button[type=submit]")
    await page.wait_for_selector("#roster-message:has-text('op06: 追加しました')", timeout=10_000)
    await page.wait_for_selector("#admin-users tr[data-user=dave] option[value=op06]",
                                 state="attached", timeout=10_000)
    await page.select_option("#admin-users tr[data-user=dave] select.bind-to", "op06")
    await page.click("#admin-users tr[data-user=dave] button.bind")
    await page.wait_for_selector("#admin-message:has-text('dave')", timeout=10_000)
    await page.select_option("#admin-operators tr[data-operator=op04] select.level >> nth=3", "")
    await page.click("#admin-operators tr[data-operator=op04] button.save")
    await page.wait_for_selector("#roster-message:has-text('op04: 保存しました')", timeout=10_000)
    await screen(page, shots, "admin-operators", full_page=True)

    dave = await new_page(browser)
    network.set_operator(OP06_URI, OperatorBehaviour.RING)
    await login(dave, base, "dave", "pw-dave-console")
    await dave.wait_for_selector("body[data-live='1']", timeout=10_000)
    await dave.keyboard.press("F2")  # 受付可
    await dave.wait_for_selector("#my-state:has-text('受付可')", timeout=10_000)
    call_id = await call_to_menu(server.app, network)
    network.press(call_id, "4")  # ライセンス: op06 has the skill now, nobody else is logged in
    await dave.wait_for_selector("#call:not([hidden])", timeout=10_000)
    assert network.call(call_id).operator_uri == OP06_URI
    network.operator_answers(call_id)
    await dave.wait_for_selector("#my-state:has-text('通話中')", timeout=10_000)
    network.caller_hangs_up(call_id)
    await settle(server.app, lambda: not network.active_calls)

    actions = {(e.action, e.target) for e in await audit.entries(server.app[SESSIONS])}
    assert {("operator.add", "op06"), ("user.bind_operator", "dave"),
            ("operator.change", "op04")} <= actions
    [change] = await audit.entries(server.app[SESSIONS], action="operator.change")
    assert change.detail["after"] == {"skills": {"isolation": 2, "other": 2}}
