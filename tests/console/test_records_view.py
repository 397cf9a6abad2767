"""Records in real headless Chromium: a manager searches by date and words, pages, opens a ticket
with its call timeline and escalation, downloads the XLSX (read back with openpyxl); an admin
sees those reads in the audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
from browser_support import artefact_dir, login, new_page, screen
from console_support import PASSWORDS, make_tickets

from cti.sip.memory import MemoryPhoneNetwork


async def test_manager_searches_opens_exports_and_the_admin_sees_the_reads(
    browser: Any, console: tuple[Any, MemoryPhoneNetwork], tmp_path: Path
) -> None:
    server, _ = console
    base = str(server.make_url("")).rstrip("/")
    shots = artefact_dir(tmp_path)
    ids = await make_tickets(server, 23)

    page = await new_page(browser)
    await login(page, base, "mgr01", PASSWORDS["mgr01"])
    await page.click("#tab-records")
    await page.wait_for_selector("#records-view:not([hidden])", timeout=10_000)
    await page.fill("#rec-since", "2027-04-05")
    await page.fill("#rec-until", "2027-04-05")
    await page.click("#rec-form button[type=submit]")
    await page.wait_for_selector("#rec-total:has-text('23 件')", timeout=10_000)
    assert await page.locator("#rec-results tbody tr").count() == 23
    await page.fill("#rec-until", "2027-04-04")
    await page.click("#rec-form button[type=submit]")
    await page.wait_for_selector("#rec-total:has-text('0 件')", timeout=10_000)

    await page.fill("#rec-until", "")
    await page.select_option("#rec-target", "vendor")
    await page.click("#rec-form button[type=submit]")
    await page.wait_for_selector("#rec-total:has-text('1 件')", timeout=10_000)
    await page.click("#rec-results tbody tr button.link")
    await page.wait_for_selector("#rec-escalations li:has-text('保守窓口')", timeout=10_000)
    timeline = await page.inner_text("#rec-timeline")
    assert "応答 / Connected" in timeline and "終了 / Ended" in timeline
    await screen(page, shots, "records", full_page=True)

    await page.select_option("#rec-target", "")
    await page.fill("#rec-q", "VPN")
    await page.click("#rec-form button[type=submit]")
    await page.wait_for_selector("#rec-total:has-text('1 件')", timeout=10_000)
    async with page.expect_download() as waiting:
        await page.click("#rec-export-xlsx")
    download = await waiting.value
    saved = tmp_path / "export.xlsx"
    await download.save_as(str(saved))
    book = openpyxl.load_workbook(saved)
    rows = [[c.value for c in row] for row in book.active.iter_rows()]
    assert rows[0][0] == "受付番号 / Reference" and len(rows) == 2
    assert "VPN" in rows[1][9] and rows[1][0].startswith("HD-")

    admin = await new_page(browser)
    await login(admin, base, "admin", PASSWORDS["admin"])
    await admin.click("#tab-records")
    await admin.fill("#audit-actor", "mgr01")
    await admin.click("#audit-form button[type=submit]")
    await admin.wait_for_selector("#audit-log tbody tr:has-text('records.export')", timeout=10_000)
    log = await admin.inner_text("#audit-log")
    assert "ticket.read" in log and "records.search" in log
    await screen(admin, shots, "audit-log", full_page=True)
    assert len(ids) == 23
