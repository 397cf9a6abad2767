"""Months that are not ordinary: empty, only after hours, Golden Week, the year-end closure."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, date, datetime

from openpyxl import load_workbook
from openpyxl.workbook import Workbook
from report_support import Sessions, section, sql_counts, texts
from sqlalchemy import text

from cti.config import BusinessCalendar, Settings
from cti.reports.archive import month_set
from cti.reports.period import Month
from cti.reports.seed import seed_month
from cti.reports.workbook import build_workbook, workbook_bytes

AS_OF = datetime(2028, 2, 1, 3, 0, tzinfo=UTC)


async def _workbook(settings: Settings, sessions: Sessions, month: Month) -> Workbook:
    doc = await month_set(settings, sessions, month, AS_OF)
    return load_workbook(io.BytesIO(workbook_bytes(build_workbook(doc))))


def _days(wb: Workbook) -> list[str]:
    return [r[0] for r in section(wb["月次報告書"], "7.")]


async def test_an_empty_month_still_makes_every_document(
        sessions: Sessions, database_url: str, make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(database_url)
    wb = await _workbook(settings, sessions, Month(2027, 6))
    history = wb["対応履歴票"]
    assert history["A4"].value == "対象月の受付はありません / No calls this month"
    report = wb["月次報告書"]
    assert {r[0]: r[1] for r in section(report, "1.")}["当月の受付件数 / received"] == 0
    quality = {r[0].split(" / ")[1]: r[1] for r in section(report, "3.")}
    assert quality["service level"] is None and quality["calls counted"] == 0
    calendar = BusinessCalendar(settings.hours)
    june = [d for d in range(1, 31) if calendar.is_business_day(date(2027, 6, d))]
    assert _days(wb) == [f"06/{d:02d}" for d in june]
    assert all(r[2] == 0 for r in section(report, "7."))
    assert section(report, "10.") == []
    assert "ヘルプデスク受付 0件" in texts(wb["業務完了届"])


async def test_a_month_with_only_after_hours_calls(
        sessions: Sessions, database_url: str, make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(database_url)
    month = Month(2027, 7)
    await seed_month(settings, sessions, month, 3, AS_OF, calls=40, after_hours_share=1.0)
    sql = await sql_counts(settings, sessions, month)
    assert sql.by_outcome == {"after_hours": 40}
    wb = await _workbook(settings, sessions, month)
    report = wb["月次報告書"]
    outcomes = {r[0]: r[1] for r in section(report, "2.")}
    assert outcomes["時間外 / after hours"] == 40 and outcomes["応答 / answered"] == 0
    quality = {r[0].split(" / ")[1]: r[1] for r in section(report, "3.")}
    assert quality["service level"] is None and quality["abandon rate"] is None
    assert sum(r[2] for r in section(report, "7.")) == sum(
        n for d, n in sql.by_local_day.items() if BusinessCalendar(settings.hours).is_business_day(d))
    hours = {r[0]: r[1] for r in section(report, "8.")}
    assert sum(hours.values()) == 40
    assert all(row[7] == "時間外" for row in wb["対応履歴票"].iter_rows(min_row=4, values_only=True))


async def test_golden_week_and_the_year_end_closure_are_not_business_days(
        sessions: Sessions, database_url: str, make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(database_url)
    for month in (Month(2027, 5), Month(2027, 12), Month(2028, 1)):
        await seed_month(settings, sessions, month, 5, AS_OF)
    may = _days(await _workbook(settings, sessions, Month(2027, 5)))
    assert not {"05/03", "05/04", "05/05"} & set(may) and "05/06" in may and "05/07" in may
    assert may[0] == "05/06"  # May 1-2 is a weekend
    december = _days(await _workbook(settings, sessions, Month(2027, 12)))
    assert december[-1] == "12/28"
    assert not {"12/29", "12/30", "12/31"} & set(december)
    january = await _workbook(settings, sessions, Month(2028, 1))
    days = _days(january)
    assert days[0] == "01/04" and "01/10" not in days  # closure to Jan 3; Coming of Age Day
    sql = await sql_counts(settings, sessions, Month(2028, 1))
    assert sum(r[2] for r in section(january["月次報告書"], "7.")) + sum(
        n for d, n in sql.by_local_day.items() if f"{d:%m/%d}" not in days) == sql.total == 181


async def test_a_service_removed_from_the_config_still_counts(
        sessions: Sessions, database_url: str, make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(database_url)
    month = Month(2027, 8)
    await seed_month(settings, sessions, month, 4, AS_OF, calls=20, after_hours_share=0.0)
    async with sessions() as session, session.begin():
        await session.execute(text(
            "UPDATE tickets SET service = 'retired' WHERE id = (SELECT min(id) FROM tickets"
            " WHERE service IS NOT NULL)"))
    report = (await _workbook(settings, sessions, month))["月次報告書"]
    services = {r[0]: r[1] for r in section(report, "4.")}
    assert services["retired"] == 1
    assert sum(services.values()) == 20
