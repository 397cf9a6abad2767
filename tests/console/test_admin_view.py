"""Admin in real headless Chromium: an operator user bound to nobody is reported, the admin binds
it to a configured operator on the admin screen, and that user then gets the desk."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from browser_support import artefact_dir, login, new_page, screen
from console_support import PASSWORDS

from cti.auth import hash_password
from cti.keys import SESSIONS
from cti.sip.memory import MemoryPhoneNetwork
from cti.storage.users import add_user, list_users


async def test_admin_binds_an_operator_user(
    browser: Any, console: tuple[Any, MemoryPhoneNetwork], tmp_path: Path
) -> None:
    server, _ = console
    base = str(server.make_url("")).rstrip("/")
    shots = artefact_dir(tmp_path)
    await add_user(server.app[SESSIONS], "carol", "operator", hash_password("pw-carol-console"),
                   datetime.now(UTC))
    carol = await new_page(browser)
    await login(carol, base, "carol", "pw-carol-console")
    await carol.wait_for_selector("#unbound:not([hidden])", timeout=10_000)

    page = await new_page(browser)
    await login(page, base, "admin", PASSWORDS["admin"])
    await page.click("#tab-admin")
    await page.wait_for_selector("#admin-problems li:has-text('carol')", timeout=10_000)
    await page.select_option("#admin-users tr[data-user=carol] select.bind-to", "op03")
    await page.click("#admin-users tr[data-user=carol] button.bind")
    await page.wait_for_selector("#admin-message:has-text('carol')", timeout=10_000)
    await screen(page, shots, "admin", full_page=True)
    bound = {u.username: u.operator_id for u in await list_users(server.app[SESSIONS])}
    assert bound["carol"] == "op03"

    await carol.reload()
    await carol.wait_for_selector("#state-bar:not([hidden])", timeout=10_000)
    await carol.keyboard.press("F3")
    await carol.wait_for_selector("#my-state:has-text('離席')", timeout=10_000)
    taken = await page.evaluate("""async () => (await fetch('/api/users/alice/operator', {
        method: 'PUT', headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({operator_id: 'op03'})})).status""")
    assert taken == 409  # one user per operator
