"""The workbook of a seeded month, read back with openpyxl, against plain SQL counts (both databases)."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook
from report_support import Sessions, section, sql_counts, texts
from sqlalchemy import text

from cti.config import Settings
from cti.reports.archive import month_set
from cti.reports.history import OUTCOME_LABELS, short_name
from cti.reports.period import Month
from cti.reports.seed import seed_month
from cti.reports.workbook import build_workbook, workbook_bytes
from cti.storage.knowledge import ArticleText, create_article

AS_OF = datetime(2027, 6, 1, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(("month", "calls"), [(Month(2027, 4), 705), (Month(2027, 2), 130)])
async def test_every_figure_matches_sql(sessions: Sessions, database_url: str,
                                        make_settings: Callable[..., Settings], month: Month,
                                        calls: int) -> None:
    settings = make_settings(database_url)
    assert await seed_month(settings, sessions, month, 7, AS_OF) == calls
    await seed_month(settings, sessions, month.minus_years(1), 8, AS_OF, calls=50)  # last year
    sql = await sql_counts(settings, sessions, month)
    assert sql.total == calls
    (top_service, top_category), _ = sql.by_category.most_common(1)[0]
    await create_article(sessions, top_service, ArticleText(
        f"{top_category}の対応手順", f"{top_category}についての問い合わせ", "手順書を参照。"),
        "seed", AS_OF)
    doc = await month_set(settings, sessions, month, AS_OF)
    wb = load_workbook(io.BytesIO(workbook_bytes(build_workbook(doc))))
    assert wb.sheetnames == ["対応履歴票", "月次報告書", "業務完了届"]

    history = wb["対応履歴票"]
    assert history["A3"].value == "受付番号\nReference"
    assert [r[0] for r in history.iter_rows(min_row=4, values_only=True)] == sql.references
    assert [r[4] or "" for r in history.iter_rows(min_row=4, values_only=True)] == sql.summaries
    assert history.freeze_panes == "C4"
    assert history.auto_filter.ref == f"A3:O{3 + calls}"
    assert history.print_title_rows == "$3:$3"
    assert history.page_setup.orientation == "landscape" and history.page_setup.paperSize == 9
    assert "&P" in history.oddFooter.center.text and month.label_ja in history.oddHeader.center.text
    escalated_rows = sum(1 for r in history.iter_rows(min_row=4, values_only=True) if r[9])
    assert escalated_rows == sql.escalated_tickets > 0

    report = wb["月次報告書"]
    received = {r[0]: r[1] for r in section(report, "1.")}
    assert received["当月の受付件数 / received"] == calls
    assert received["基準件数（当月） / baseline"] == settings.baseline[month.month - 1]
    assert received["前年同月 / same month last year"] == 50
    outcomes = {r[0]: r[1] for r in section(report, "2.")}
    for key, (ja, en) in OUTCOME_LABELS.items():
        assert outcomes[f"{ja} / {en}"] == sql.by_outcome.get(key, 0), key
    quality = {r[0].split(" / ")[1]: r[1] for r in section(report, "3.")}
    assert quality["service level"] == pytest.approx(sql.service_level)
    assert quality["average speed of answer"] == pytest.approx(sql.asa)
    assert quality["average handle time"] == pytest.approx(sql.aht)
    assert quality["abandon rate"] == pytest.approx(sql.abandon_rate)
    assert quality["calls counted"] == sql.counted
    services = {r[0]: r[1] for r in section(report, "4.")}
    for service in settings.services:
        assert services[short_name(service.name_ja)] == sql.by_service.get(service.id, 0)
    assert services["サービス未選択"] == sql.by_service.get(None, 0)
    escalations = {r[0].split(" / ")[1]: (r[1], r[2]) for r in section(report, "5.")}
    assert escalations == {t: sql.escalations.get(t, (0, 0)) for t in ("city", "vendor")}
    assert len(section(report, "6.")) == sql.incidents == 1
    days = section(report, "7.")
    assert all(r[2] == sql.by_local_day.get(datetime.strptime(f"{month.year}/{r[0]}", "%Y/%m/%d").date(), 0)
               for r in days)
    assert sum(r[2] for r in days) == calls - sum(
        n for d, n in sql.by_local_day.items() if d.strftime("%m/%d") not in {r[0] for r in days})
    categories = section(report, "9.")
    assert sorted(r[1] for r in categories) == sorted(sql.by_category.values())
    top = section(report, "10.")
    assert [r[1] for r in top] == sorted(sql.by_category.values(), reverse=True)[:5]
    assert top[0][6] == f"{top_category}の対応手順"  # the knowledge match of the top question
    fiscal = {r[0]: r[1] for r in section(report, "11.")}
    assert fiscal[f"{month.month}月"] == calls
    assert len(report._charts) == 3
    assert report.page_setup.paperSize == 9 and len(report.row_breaks.brk) == 3

    notice = texts(wb["業務完了届"])
    for wanted in ("業務完了届", settings.reports.contract_name, f"（{month.label_ja}分）",
                   settings.reports.contractor, settings.reports.responsible_person,
                   f"ヘルプデスク受付 {calls}件", "令和9年6月1日"):
        assert wanted in notice


async def test_typed_text_stays_text(sessions: Sessions, database_url: str,
                                     make_settings: Callable[..., Settings]) -> None:
    """A summary that looks like a formula or holds control characters is one ordinary cell."""
    settings = make_settings(database_url)
    month = Month(2027, 2)
    await seed_month(settings, sessions, month, 9, AS_OF, calls=5, after_hours_share=0.0)
    async with sessions() as session, session.begin():
        await session.execute(
            text("UPDATE tickets SET summary = :s WHERE id = (SELECT min(id) FROM tickets)"),
            {"s": '=HYPERLINK("http://example.invalid","x")\x07\x1b 続き'})
    doc = await month_set(settings, sessions, month, AS_OF)
    wb = load_workbook(io.BytesIO(workbook_bytes(build_workbook(doc))))
    cell = wb["対応履歴票"]["E4"]
    assert cell.data_type == "s"
    assert cell.value == '=HYPERLINK("http://example.invalid","x") 続き'
