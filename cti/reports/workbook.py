"""The month's workbook: 対応履歴票, 月次報告書 and 業務完了届 as three sheets (openpyxl).

``build_workbook`` returns the whole workbook; ``build_workbook(..., only=...)`` one sheet of it,
which is how each document becomes its own PDF.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from cti.config import Settings
from cti.reports.figures import MonthFigures
from cti.reports.history import HEADERS, HistoryRow
from cti.reports.monthly_sheet import write_monthly
from cti.reports.notice import write_notice
from cti.reports.sheets import (
    BODY,
    SMALL,
    TITLE,
    body_row,
    fit_columns,
    fit_row_heights,
    header_row,
    print_setup,
)

HISTORY = "対応履歴票"
MONTHLY = "月次報告書"
NOTICE = "業務完了届"
DOCUMENTS = (HISTORY, MONTHLY, NOTICE)
HISTORY_HEADER_ROW = 3
# Widest each column may get (characters; CJK count two): what does not fit wraps, so that the
# sheet prints legibly on A4 landscape. Summary and answer always take their full width.
HISTORY_CAPS = {1: 15, 2: 12, 3: 12, 4: 12, 5: 32, 6: 32, 7: 12, 8: 10, 9: 10, 10: 16, 11: 12,
                12: 12, 13: 9, 14: 12, 15: 10}
HISTORY_DATES = "mm/dd hh:mm"  # the month is in the title


@dataclass(frozen=True, slots=True)
class MonthSet:
    """Everything one month's documents show."""

    settings: Settings
    figures: MonthFigures
    history: Sequence[HistoryRow]
    as_of: datetime  # when it was built (local time), printed on the documents


def build_workbook(doc: MonthSet, only: Sequence[str] = DOCUMENTS) -> Workbook:
    wb = Workbook()
    wb.remove(wb.active)
    wb.properties.creator = doc.settings.reports.contractor or doc.settings.helpdesk_name_ja
    wb.properties.title = f"{doc.settings.reports.contract_name} {doc.figures.month.label_ja}"
    wb.properties.created = wb.properties.modified = doc.as_of.replace(tzinfo=None)
    for name in only:
        ws = wb.create_sheet(name)
        if name == HISTORY:
            write_history(ws, doc)
        elif name == MONTHLY:
            write_monthly(ws, doc.settings, doc.figures, doc.as_of)
        elif name == NOTICE:
            write_notice(ws, doc.settings, doc.figures, doc.as_of)
        else:
            raise ValueError(f"unknown document {name!r}")
    return wb


def workbook_bytes(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def write_history(ws: Worksheet, doc: MonthSet) -> None:
    month = doc.figures.month
    title = f"ヘルプデスク対応履歴票　{month.label_ja}"
    ws["A1"] = title
    ws["A1"].font = TITLE
    ws["A2"] = (f"{doc.settings.reports.contract_name}　／　対象期間 {month.label_ja}1日〜末日"
                f"　／　{len(doc.history)}件　／　作成 {doc.as_of:%Y/%m/%d %H:%M}")
    ws["A2"].font = SMALL
    header_row(ws, HISTORY_HEADER_ROW, (f"{ja}\n{en}" for ja, en in HEADERS))

    for offset, row in enumerate(doc.history, start=HISTORY_HEADER_ROW + 1):
        body_row(ws, offset, row.cells(), number_format="0.00", date_format=HISTORY_DATES)
    last = HISTORY_HEADER_ROW + max(1, len(doc.history))
    if not doc.history:
        ws.cell(row=last, column=1, value="対象月の受付はありません / No calls this month").font = BODY
    ws.auto_filter.ref = f"A{HISTORY_HEADER_ROW}:O{last}"
    ws.freeze_panes = f"C{HISTORY_HEADER_ROW + 1}"
    fit_columns(ws, [[ja for ja, _ in HEADERS], *(r.cells() for r in doc.history)],
                maximum=HISTORY_CAPS, date_width=12)
    for column in (5, 6):
        ws.column_dimensions[chr(64 + column)].width = HISTORY_CAPS[column]
    fit_row_heights(ws, HISTORY_HEADER_ROW, last, columns=len(HEADERS))
    print_setup(ws, title=f"{title}（{doc.settings.helpdesk_name_ja}）", landscape=True,
                repeat_rows=f"{HISTORY_HEADER_ROW}:{HISTORY_HEADER_ROW}")
