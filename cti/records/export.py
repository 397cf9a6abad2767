"""Exports of a filtered ticket list as CSV (UTF-8 with BOM, so Excel opens Japanese text) and
XLSX (openpyxl, write-only so memory stays flat). Times in the helpdesk's zone (wire_time)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable
from datetime import tzinfo

from openpyxl import Workbook

from cti.clock import wire_time
from cti.storage.tickets import TicketView

COLUMNS = (
    ("reference", "受付番号 / Reference"), ("received_at", "受付日時 / Received"),
    ("service", "サービス / Service"), ("category", "分類 / Category"),
    ("status", "状態 / Status"), ("outcome", "結果 / Outcome"), ("operator", "担当 / Operator"),
    ("wait_seconds", "待ち秒 / Wait s"), ("talk_seconds", "通話秒 / Talk s"),
    ("summary", "問い合わせ内容 / Summary"), ("answer", "回答 / Answer"),
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def row(view: TicketView, zone: tzinfo) -> list[object]:
    values: dict[str, object] = {
        "reference": view.reference, "received_at": wire_time(view.received_at, zone),
        "service": view.service or "", "category": view.category or "", "status": view.status,
        "outcome": view.outcome or "", "operator": view.operator_id or "",
        "wait_seconds": view.wait_seconds if view.wait_seconds is not None else "",
        "talk_seconds": view.talk_seconds if view.talk_seconds is not None else "",
        "summary": view.summary, "answer": view.answer,
    }
    return [_safe(values[name]) for name, _ in COLUMNS]


def _safe(value: object) -> object:
    """Free text that a spreadsheet would run as a formula is kept as text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


async def csv_chunks(views: AsyncIterator[TicketView], zone: tzinfo) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([label for _, label in COLUMNS])
    yield ("\ufeff" + buffer.getvalue()).encode()
    async for view in views:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row(view, zone))
        yield buffer.getvalue().encode()


def xlsx_bytes(rows: Iterable[list[object]], title: str) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append([label for _, label in COLUMNS])
    for values in rows:
        sheet.append(values)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
