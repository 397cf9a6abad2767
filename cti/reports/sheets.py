"""What every sheet of the deliverables shares: fonts, borders, print setup, column widths."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

FONT_NAME = "Noto Sans CJK JP"  # installed with fonts-noto-cjk; Excel substitutes its own
BODY = Font(name=FONT_NAME, size=10)
BOLD = Font(name=FONT_NAME, size=10, bold=True)
TITLE = Font(name=FONT_NAME, size=16, bold=True)
HEADING = Font(name=FONT_NAME, size=12, bold=True)
SMALL = Font(name=FONT_NAME, size=9)
THIN = Side(style="thin", color="808080")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FILL = PatternFill("solid", fgColor="DDE5F0")
WRAP_TOP = Alignment(wrap_text=True, vertical="top")
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
DATETIME_FORMAT = "yyyy/mm/dd hh:mm"
# A column width counts digits of the 11 pt default font; our text is 10 pt, so a full-width
# character takes a little less than two of them.
GLYPH_SCALE = 0.9


def display_width(text: str) -> int:
    """Columns a text takes: full-width (CJK) characters count two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def fit_columns(ws: Worksheet, rows: Iterable[Iterable[object]], *, minimum: int = 6,
                maximum: int | Mapping[int, int] = 50, first_column: int = 1,
                date_width: int = 17) -> None:
    """Column widths that fit the longest line of each column (capped; longer text wraps)."""
    widths: dict[int, int] = {}
    for row in rows:
        for index, value in enumerate(row, start=first_column):
            cap = maximum if isinstance(maximum, int) else maximum.get(index, 50)
            if hasattr(value, "strftime"):
                longest = date_width
            else:
                longest = max((display_width(line) for line in cell_text(value).split("\n")),
                              default=0) + 2
            widths[index] = max(widths.get(index, minimum), min(cap, longest))
    for index, width in widths.items():
        ws.column_dimensions[get_column_letter(index)].width = width


def fit_row_heights(ws: Worksheet, first_row: int, last_row: int, *, line_height: float = 12.5,
                    columns: int | None = None, spans: Mapping[int, int] | None = None) -> None:
    """Row heights that show every wrapped line (LibreOffice does not grow rows on load).

    ``spans`` maps the first column of a merged range to its last (its width is their sum)."""
    columns = columns or ws.max_column
    spans = spans or {}
    widths = [ws.column_dimensions[get_column_letter(c)].width or 8.43 for c in range(1, columns + 1)]
    for row in range(first_row, last_row + 1):
        lines = 1
        for column in range(1, columns + 1):
            value = ws.cell(row=row, column=column).value
            if value is None or hasattr(value, "strftime") or isinstance(value, int | float):
                continue
            width = sum(widths[c - 1] for c in range(column, spans.get(column, column) + 1))
            usable = max(1.0, width - 1.0)
            wrapped = sum(max(1, math.ceil(display_width(part) * GLYPH_SCALE / usable))
                          for part in str(value).split("\n"))
            lines = max(lines, wrapped)
        ws.row_dimensions[row].height = line_height * lines + 3


def header_row(ws: Worksheet, row: int, labels: Iterable[str], column: int = 1) -> None:
    for offset, label in enumerate(labels):
        cell = ws.cell(row=row, column=column + offset, value=label)
        cell.font, cell.fill, cell.border, cell.alignment = BOLD, HEADER_FILL, BOX, CENTER


def safe_text(value: object) -> object:
    """Free text as a plain string cell: control characters (which openpyxl refuses) dropped."""
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def body_row(ws: Worksheet, row: int, values: Iterable[object], column: int = 1,
             number_format: str | None = None, date_format: str = DATETIME_FORMAT) -> None:
    for offset, value in enumerate(values):
        cell = ws.cell(row=row, column=column + offset, value=safe_text(value))
        if isinstance(value, str) and value.startswith("="):
            cell.data_type = "s"  # text an operator typed is never a formula
        cell.font, cell.border, cell.alignment = BODY, BOX, WRAP_TOP
        if hasattr(value, "strftime"):
            cell.number_format = date_format
        elif number_format and isinstance(value, float):
            cell.number_format = number_format


def print_setup(ws: Worksheet, *, title: str, landscape: bool, repeat_rows: str | None = None,
                fit_height: int = 0) -> None:
    """A4, fit to the page width, title in the header, page numbers in the footer."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = fit_height
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.75
    ws.page_margins.header = ws.page_margins.footer = 0.3
    ws.oddHeader.center.text = title
    ws.oddHeader.center.size = 10
    ws.oddHeader.center.font = FONT_NAME
    ws.oddFooter.center.text = "&P / &N"
    ws.oddFooter.center.size = 9
    if repeat_rows:
        ws.print_title_rows = repeat_rows
