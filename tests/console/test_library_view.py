"""Escalations and knowledge in real headless Chromium: a supervisor lists open escalations,
edits an article (a new version) and promotes a resolved ticket to an article; the monthly
report link names the chosen month and format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from browser_support import artefact_dir, login, new_page, screen
from console_support import PASSWORDS, T0, make_tickets

from cti.keys import SESSIONS
from cti.sip.memory import MemoryPhoneNetwork
from cti.storage import knowledge
from cti.storage import tickets as ticket_store
from cti.tickets.status import check_transition


async def test_supervisor_follows_escalations_and_keeps_knowledge(
    browser: Any, console: tuple[Any, MemoryPhoneNetwork], tmp_path: Path
) -> None:
    server, _ = console
    base = str(server.make_url("")).rstrip("/")
    shots = artefact_dir(tmp_path)
    ids = await make_tickets(server, 9)
    await ticket_store.update_ticket(server.app[SESSIONS], ids[2], {
        "summary": "プリンタに印刷できない", "answer": "ドライバを再インストールして解決",
        "status": "resolved"}, T0, check_status=check_transition)

    page = await new_page(browser)
    await login(page, base, "sv01", PASSWORDS["sv01"])
    await page.click("#tab-library")
    await page.wait_for_selector("#esc-table tbody tr:has-text('ESC-T-1')", timeout=10_000)
    assert "保守窓口" in await page.inner_text("#esc-table tbody")
    assert "時間 / h" in await page.inner_text("#esc-table tbody")  # age in business hours
    await page.select_option("#esc-filter", "answered")
    await page.click("#esc-form button[type=submit]")
    await page.wait_for_selector("#esc-count:has-text('0 件')", timeout=10_000)

    await page.wait_for_selector("#kb-articles li:has-text('USBメモリが使えない')", timeout=10_000)
    await page.click("#kb-articles li button.link")
    await page.wait_for_selector("#kb-editor:not([hidden])", timeout=10_000)
    await page.fill("#kb-edit-answer", "SKYSEAでUSB一時利用申請（最長7日）を出してもらう")
    await page.click("#kb-edit-form button[type=submit]")
    await page.wait_for_selector("#kb-editor-title:has-text('v2')", timeout=10_000)
    assert await page.locator("#kb-versions li").count() >= 2

    await page.fill("#kb-promote-ticket", str(ids[2]))
    await page.click("#kb-promote-form button[type=submit]")
    await page.wait_for_selector("#kb-message:has-text('記事を作りました')", timeout=10_000)
    articles = await knowledge.list_articles(server.app[SESSIONS], None)
    assert any(a.source_ticket_id == ids[2] for a in articles)

    await page.fill("#report-month", "2027-04")
    await page.select_option("#report-format", "xlsx")
    href = await page.get_attribute("#report-link", "href")
    assert href == "/api/reports/monthly?month=2027-04&format=xlsx"
    await screen(page, shots, "escalations-knowledge", full_page=True)
