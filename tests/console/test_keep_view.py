"""The ticket form's live masked preview in real headless Chromium: the operator marks a falsely
masked word (the word processor 一太郎, taken for a name) as not personal data, the preview shows
it, the save keeps it and the audit log records it; real names and the phone stay masked, and the
phone offers no such choice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from browser_support import artefact_dir, login, new_page, screen
from console_support import PASSWORDS, call_to_menu, settle

from cti.keys import ESCALATIONS, SESSIONS
from cti.sip.memory import MemoryPhoneNetwork, OperatorBehaviour
from cti.storage import audit
from cti.storage import tickets as store

OP02_URI = "sip:2202@127.0.0.1:5070"
SUMMARY = "総務課の山田さん（090-1234-5678）から一太郎が起動しないと連絡"


async def operator_on_a_call(browser: Any, server: Any, network: MemoryPhoneNetwork
                             ) -> tuple[Any, str]:
    """alice (op02) logs in, goes available, and answers a SKYSEA call; her ticket shows."""
    page = await new_page(browser)
    await login(page, str(server.make_url("")).rstrip("/"), "alice", PASSWORDS["alice"])
    network.set_operator(OP02_URI, OperatorBehaviour.RING)
    await page.wait_for_selector("body[data-live='1']", timeout=10_000)
    await page.keyboard.press("F2")
    await page.wait_for_selector("#my-state:has-text('受付可')", timeout=10_000)
    call_id = await call_to_menu(server.app, network)
    network.press(call_id, "2")
    await page.wait_for_selector("#ticket:not([hidden])", timeout=10_000)
    network.operator_answers(call_id)
    return page, call_id


async def test_an_operator_keeps_a_falsely_masked_word(
    browser: Any, console: tuple[Any, MemoryPhoneNetwork], tmp_path: Path
) -> None:
    server, network = console
    page, call_id = await operator_on_a_call(browser, server, network)

    await page.fill("#summary", SUMMARY)
    await page.wait_for_selector("#preview button.masked[data-word='一太郎']", timeout=10_000)
    assert await page.locator("#preview button.masked").count() == 2  # 山田, 一太郎
    assert await page.inner_text("#preview span.masked.never") == "[電話番号]"
    await page.click("#preview button.masked[data-word='一太郎']")
    await page.wait_for_selector("#kept-words li[data-word='一太郎']", timeout=10_000)
    await page.wait_for_selector("#preview:has-text('一太郎が起動しない')", timeout=10_000)
    assert "山田" not in await page.inner_text("#preview")
    await screen(page, artefact_dir(tmp_path), "operator-keep")
    await page.keyboard.press("Control+Enter")
    await page.wait_for_selector("#saved:has-text('保存しました')", timeout=10_000)

    [ticket] = await store.list_tickets(server.app[SESSIONS], store.TicketFilter())
    assert ticket.summary == "総務課の[氏名]さん（[電話番号]）から一太郎が起動しないと連絡"
    [entry] = await audit.entries(server.app[SESSIONS], action="ticket.keep")
    assert (entry.actor, entry.target) == ("alice", ticket.reference)
    assert entry.detail["words"] == ["一太郎"] and entry.detail["kinds"] == {"一太郎": ["person_name"]}
    network.caller_hangs_up(call_id)
    await settle(server.app, lambda: not network.active_calls)


async def test_a_reload_of_the_ticket_on_screen_keeps_what_the_operator_typed(
    browser: Any, console: tuple[Any, MemoryPhoneNetwork], tmp_path: Path
) -> None:
    """The console reloads the ticket on screen when it becomes ready after the pop or when an
    escalation of it is answered; what the operator typed and has not saved yet stays (it was
    replaced by the stored, empty summary: seen when the pop and ticket_ready crossed)."""
    server, network = console
    page, call_id = await operator_on_a_call(browser, server, network)
    await settle(server.app, lambda: bool(network.call(call_id).operator_uri))
    [listed] = await store.list_tickets(server.app[SESSIONS], store.TicketFilter())
    ticket, _ = await store.get_ticket(server.app[SESSIONS], listed.id)
    await page.wait_for_selector(f"#ticket-ref:has-text('{ticket.reference}')", timeout=10_000)

    await page.fill("#summary", SUMMARY)
    await page.wait_for_selector("#preview button.masked[data-word='一太郎']", timeout=10_000)
    escalations = server.app[ESCALATIONS]
    opened = await escalations.open(ticket, "vendor", "起動しない / does not start", "alice")
    await escalations.answer(opened, "再インストールで解決 / reinstall it", "alice")
    # the console reloads the ticket, then lists the answer (escalation_answered)
    await page.wait_for_selector("#my-escalations p.answer:has-text('再インストール')",
                                 timeout=10_000)
    assert await page.input_value("#summary") == SUMMARY
    assert await page.locator("#preview button.masked").count() == 2  # 山田, 一太郎
    await screen(page, artefact_dir(tmp_path), "operator-reload-keeps-typing")
    network.caller_hangs_up(call_id)
    await settle(server.app, lambda: not network.active_calls)
