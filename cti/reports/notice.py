"""業務完了届: the one-page notice that the month's work is done, ready to print and stamp."""

from __future__ import annotations

import calendar
from datetime import date, datetime

from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet

from cti.config import Settings
from cti.reports.figures import MonthFigures
from cti.reports.sheets import BOX, FONT_NAME, print_setup

REIWA_START = date(2019, 5, 1)
LARGE = Font(name=FONT_NAME, size=12)
NOTICE_TITLE = Font(name=FONT_NAME, size=20, bold=True)


def wareki(day: date) -> str:
    """令和9年5月6日 (the era Japanese municipal documents are dated in)."""
    if day < REIWA_START:
        return f"{day.year}年{day.month}月{day.day}日"
    year = day.year - 2018
    return f"令和{'元' if year == 1 else year}年{day.month}月{day.day}日"


def write_notice(ws: Worksheet, settings: Settings, f: MonthFigures, as_of: datetime) -> None:
    r = settings.reports
    month = f.month
    last_day = calendar.monthrange(month.year, month.month)[1]
    for column, width in {"A": 4, "B": 18, "C": 22, "D": 22, "E": 18, "F": 8}.items():
        ws.column_dimensions[column].width = width

    def put(row: int, column: str, text: str, font: Font = LARGE, align: str = "left") -> None:
        cell = ws[f"{column}{row}"]
        cell.value = text
        cell.font = font
        cell.alignment = Alignment(horizontal=align, vertical="center", wrap_text=False)

    put(2, "F", wareki(as_of.date()), align="right")
    put(4, "B", f"{r.addressee}　様")
    put(7, "D", "受注者")
    put(7, "E", r.contractor or "（受注者名未設定）")
    put(9, "D", "業務責任者")
    put(9, "E", r.responsible_person or "（未設定）")
    stamp = ws["F9"]
    stamp.value = "印"
    stamp.font = Font(name=FONT_NAME, size=10, color="808080")
    stamp.alignment = Alignment(horizontal="center", vertical="center")
    stamp.border = BOX
    ws.row_dimensions[9].height = 42
    ws.merge_cells("A12:F12")
    put(12, "A", "業務完了届", NOTICE_TITLE, align="center")
    ws.row_dimensions[12].height = 36
    put(15, "B", "下記の業務について、完了しましたので届け出ます。")
    ws.merge_cells("A17:F17")
    put(17, "A", "記", align="center")
    answered = f.outcomes.get("answered", 0)
    lines = [
        ("1　業務名", r.contract_name),
        ("2　対象期間", f"{wareki(date(month.year, month.month, 1))}〜"
                     f"{wareki(date(month.year, month.month, last_day))}（{month.label_ja}分）"),
        ("3　履行内容", f"ヘルプデスク受付 {f.received}件（うち応答 {answered}件）"),
        ("4　添付書類", "ヘルプデスク対応履歴票、月次報告書"),
    ]
    for offset, (label, value) in enumerate(lines):
        row = 19 + offset * 2
        put(row, "B", label)
        put(row, "C", value)
    put(19 + len(lines) * 2 + 1, "F", "以上", align="right")
    ws.print_area = "A1:F32"
    print_setup(ws, title="", landscape=False, fit_height=1)
    ws.oddFooter.center.text = ""
