"""月次報告書: the month's figures as one printable sheet with native Excel charts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from openpyxl.chart import BarChart, Reference
from openpyxl.chart.legend import Legend
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.worksheet import Worksheet

from cti.config import Settings
from cti.reports.figures import MonthFigures, outcome_rows
from cti.reports.history import TARGET_LABELS, short_name
from cti.reports.sheets import (
    BODY,
    HEADING,
    SMALL,
    TITLE,
    body_row,
    fit_row_heights,
    header_row,
    print_setup,
)

WEEKDAYS_JA = "月火水木金土日"
WIDTHS = {"A": 40, "B": 11, "C": 11, "D": 11, "E": 11, "F": 11, "G": 11, "H": 11}
CHART_ROWS = 17  # rows a chart takes (7.5 cm at the default row height, and a gap)
PERCENT = "0.0%"
SECONDS = "0.0"


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


class _Sheet:
    """A cursor down the sheet: headings, tables and charts one after another."""

    def __init__(self, ws: Worksheet) -> None:
        self.ws = ws
        self.row = 1

    def text(self, value: str, font: object = BODY) -> None:
        cell = self.ws.cell(row=self.row, column=1, value=value)
        cell.font = font
        self.row += 1

    def heading(self, value: str) -> None:
        self.row += 1
        self.text(value, HEADING)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[object]],
              formats: Sequence[str | None] = (), spans: dict[int, int] | None = None) -> tuple[int, int]:
        """Writes the table; returns its first and last data rows."""
        header_row(self.ws, self.row, headers)
        self.ws.row_dimensions[self.row].height = 28
        first = self.row + 1
        for offset, values in enumerate(rows, start=first):
            body_row(self.ws, offset, values)
            for column, fmt in enumerate(formats, start=1):
                if fmt:
                    self.ws.cell(row=offset, column=column).number_format = fmt
        if not rows:
            body_row(self.ws, first, ["該当なし / none"] + [""] * (len(headers) - 1))
        self.row = first + max(1, len(rows))
        for start, end in (spans or {}).items():
            for row in range(first - 1, self.row):
                self.ws.merge_cells(start_row=row, start_column=start, end_row=row, end_column=end)
        fit_row_heights(self.ws, first, self.row - 1, columns=len(headers), spans=spans)
        return first, first + max(1, len(rows)) - 1

    def chart(self, chart: BarChart) -> None:
        chart.width, chart.height = 17.0, 7.5
        self.ws.add_chart(chart, f"A{self.row + 1}")
        self.row += CHART_ROWS

    def page_break(self) -> None:
        self.ws.row_breaks.append(Break(id=self.row))
        self.row += 1


def _bar(title: str, y_title: str) -> BarChart:
    chart = BarChart()
    chart.type = "col"
    chart.title = title
    chart.y_axis.title = y_title
    chart.y_axis.majorGridlines = None
    chart.y_axis.delete = False
    chart.x_axis.delete = False
    chart.legend = None
    return chart


def write_monthly(ws: Worksheet, settings: Settings, f: MonthFigures, as_of: datetime) -> None:
    for column, width in WIDTHS.items():
        ws.column_dimensions[column].width = width
    s = _Sheet(ws)
    title = f"月次報告書　{f.month.label_ja}"
    s.text(title, TITLE)
    s.text(f"{settings.reports.contract_name}　／　{settings.helpdesk_name_ja}"
           f"　／　作成 {as_of:%Y/%m/%d %H:%M}", SMALL)

    s.heading("1. 受付件数 / Calls received")
    s.table(["項目", "件数", "当月÷比較"], [
        ["当月の受付件数 / received", f.received, None],
        ["基準件数（当月） / baseline", f.baseline, _ratio(f.received, f.baseline)],
        ["前年同月 / same month last year", f.last_year_received,
         _ratio(f.received, f.last_year_received)],
    ], [None, None, PERCENT])

    s.heading("2. 対応結果 / Outcomes")
    s.table(["結果", "件数", "構成比"],
            [[label, n, _ratio(n, f.received)] for _, label, n in outcome_rows(f)],
            [None, None, PERCENT])

    p = f.performance
    threshold = settings.metrics.service_level_seconds
    s.heading("3. 応答品質（受付時間内） / Service quality (business hours)")
    s.table(["指標", "値", "単位"], [
        [f"サービスレベル（{threshold}秒以内） / service level", p.service_level, "%"],
        ["平均応答時間 / average speed of answer", p.asa_seconds, "秒"],
        ["平均処理時間（通話） / average handle time", p.aht_seconds, "秒"],
        ["放棄率 / abandon rate", p.abandon_rate, "%"],
        ["対象呼数（応答＋待ち中の放棄） / calls counted", p.counted, "件"],
    ])
    for offset, fmt in enumerate([PERCENT, SECONDS, SECONDS, PERCENT, None]):
        if fmt:
            ws.cell(row=s.row - 5 + offset, column=2).number_format = fmt

    s.heading("4. サービス別 / Per service")
    first, last = s.table(
        ["サービス", "受付", "応答", "待ち中の放棄", "エスカレーション", "解決・完了",
         "サービスレベル", "平均応答（秒）"],
        [[short_name(x.name_ja), x.received, x.outcomes.get("answered", 0),
          x.outcomes.get("abandoned_queue", 0), x.escalated, x.resolved,
          x.performance.service_level, x.performance.asa_seconds] for x in f.services],
        [None, None, None, None, None, None, PERCENT, SECONDS])
    chart = _bar("サービス別受付件数 / Calls per service", "件")
    chart.add_data(Reference(ws, min_col=2, min_row=first, max_row=last), titles_from_data=False)
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    s.chart(chart)

    s.heading("5. エスカレーション / Escalations")
    s.table(["エスカレーション先", "件数", "回答済", "未回答", "期限超過", "回答まで中央値（営業時間）"],
            [[f"{TARGET_LABELS.get(e.target, e.target)} / {e.target}", e.total, e.answered, e.open,
              e.overdue, e.median_hours_to_answer] for e in f.escalations])

    s.heading("6. 障害案内 / Incidents declared")
    s.table(["宣言日時", "対象", "案内内容", "", "", "", "", ""], [
        [i.at.astimezone(settings.hours.timezone).replace(tzinfo=None),
         short_name(settings.service(i.service).name_ja) if i.service in
         {x.id for x in settings.services} else "全サービス",
         str(i.detail.get("message_ja", ""))[:200], "", "", "", "", ""] for i in f.incidents],
        spans={3: 8})

    s.page_break()
    s.heading("7. 営業日別 / Per business day")
    first, last = s.table(["日付", "曜日", "受付件数"], [
        [d.strftime("%m/%d"), WEEKDAYS_JA[d.weekday()], n] for d, n in f.business_days])
    if f.closed_day_calls:
        s.text(f"休業日の受付（時間外） / calls on closed days: {f.closed_day_calls}件", SMALL)
    chart = _bar("営業日別受付件数 / Calls per business day", "件")
    chart.add_data(Reference(ws, min_col=3, min_row=first, max_row=last), titles_from_data=False)
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    s.chart(chart)

    s.page_break()
    s.heading("8. 時間帯別 / Per hour of day")
    s.table(["時間帯", "受付件数"], [[f"{h:02d}:00〜{h:02d}:59", n] for h, n in f.hours])

    s.heading("9. 分類別 / Per category")
    s.table(["サービス／分類", "件数", "構成比"],
            [[f"{short_name(name)}／{category}", n, _ratio(n, f.received)]
             for name, category, n in f.categories], [None, None, PERCENT])

    s.page_break()
    s.heading("10. よくある質問（上位5件） / The five most frequent questions")
    s.table(["サービス／分類", "件数", "代表的な内容", "", "", "", "関連ナレッジ", ""],
            [[f"{short_name(q.service)}／{q.category}", q.count, q.example, "", "", "",
              q.knowledge or "（なし）", ""] for q in f.questions], spans={3: 6, 7: 8})

    s.heading(f"11. 年度推移（{f.month.fiscal_year}年度） / Fiscal year against the baseline")
    first, last = s.table([f"月（{f.month.fiscal_year}年度）", "受付件数", "基準件数", "基準比"], [
        [f"{m.month}月", n, base, _ratio(n, base) if n is not None else None]
        for m, n, base in f.fiscal_year], [None, None, None, PERCENT])
    chart = _bar("月別受付件数と基準 / Calls per month against the baseline", "件")
    chart.add_data(Reference(ws, min_col=2, max_col=3, min_row=first - 1, max_row=last),
                   titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    chart.legend = Legend()
    chart.legend.position = "b"
    s.chart(chart)
    print_setup(ws, title=f"{title}（{settings.helpdesk_name_ja}）", landscape=False)
