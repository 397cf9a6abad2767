"""When the sets are built by themselves: the decision with a fake clock, across a month
boundary and across March 31, and the task's failure alert (LibreOffice missing)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from escalation_support import MailCatcher
from prometheus_client import CollectorRegistry
from report_support import Sessions
from tests_support import FixedClock

from cti.config import BusinessCalendar, Settings
from cti.escalation.mailer import Mailer
from cti.reports.archive import content_type, month_set, set_checksum, write_workbook
from cti.reports.period import Month
from cti.reports.schedule import ReportMetrics, ReportSchedule, due_at, due_months, next_check
from cti.reports.seed import seed_month
from cti.storage import audit
from cti.storage import reports as store

JST = timedelta(hours=9)


def jst(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC) - JST  # type: ignore[misc]


def test_a_month_is_due_at_the_first_opening_after_it_ends(make_settings: Callable[..., Settings]) -> None:
    calendar = BusinessCalendar(make_settings().hours)
    assert due_at(Month(2027, 4), calendar) == jst(2027, 5, 6, 8, 45)  # after Golden Week
    assert due_at(Month(2026, 12), calendar) == jst(2027, 1, 4, 8, 45)  # after the year-end closure
    assert due_at(Month(2027, 1), calendar) == jst(2027, 2, 1, 8, 45)
    assert due_at(Month(2027, 3), calendar) == jst(2027, 3, 31, 17, 15)  # March: on March 31
    assert due_at(Month(2029, 3), calendar) == jst(2029, 3, 30, 17, 15)  # a Saturday: the Friday


def test_due_months_across_the_boundary_and_march_31(make_settings: Callable[..., Settings]) -> None:
    calendar = BusinessCalendar(make_settings().hours)
    april, march = Month(2027, 4), Month(2027, 3)
    assert due_months(jst(2027, 5, 6, 8, 44, 59), calendar, set(), april) == []
    assert due_months(jst(2027, 5, 6, 8, 45), calendar, set(), april) == [april]
    assert due_months(jst(2027, 5, 6, 8, 45), calendar, {"2027-04"}, april) == []
    assert due_months(jst(2027, 3, 31, 17, 14), calendar, set(), march) == []
    assert due_months(jst(2027, 3, 31, 17, 15), calendar, set(), march) == [march]
    # down over two boundaries: both missed months, oldest first; none before the first ticket
    assert due_months(jst(2027, 5, 20, 9, 0), calendar, set(), march) == [march, april]
    assert due_months(jst(2027, 5, 20, 9, 0), calendar, set(), april) == [april]
    assert due_months(jst(2027, 5, 20, 9, 0), calendar, set(), None) == []
    # older than the catch-up window: left to a person
    assert due_months(jst(2027, 9, 1, 9, 0), calendar, set(), april) == [Month(2027, 7), Month(2027, 8)]
    assert next_check(jst(2027, 5, 6, 8, 0), calendar) == jst(2027, 5, 6, 8, 45)
    assert next_check(jst(2027, 5, 6, 9, 0), calendar) == jst(2027, 5, 6, 10, 0)


async def _actions(sessions: Sessions, action: str) -> list[str]:
    return [e.target for e in await audit.entries(sessions, action=action)]


async def test_the_task_tries_at_the_boundary_and_alerts_when_the_build_fails(
        sessions: Sessions, database_url: str, make_settings: Callable[..., Settings],
        tmp_path: Path) -> None:
    settings = make_settings(database_url, CTI_REPORTS_SOFFICE=str(tmp_path / "no-soffice"),
                             CTI_REPORTS_FOLDER=str(tmp_path / "reports"))
    for month in (Month(2027, 3), Month(2027, 4)):
        await seed_month(settings, sessions, month, 2, jst(2027, 5, 1, 0, 0), calls=20)
    registry = CollectorRegistry()
    clock = FixedClock(jst(2027, 3, 31, 17, 14))
    schedule = ReportSchedule(settings, sessions, clock, _NoMail(), ReportMetrics(registry))

    assert await schedule.check() == []
    assert await _actions(sessions, "report.build_failed") == []
    assert registry.get_sample_value("cti_reports_failing") == 0

    clock.now = jst(2027, 3, 31, 17, 15)  # closing time on March 31: March's set is due
    assert await schedule.check() == []
    assert await _actions(sessions, "report.build_failed") == ["2027-03"]
    assert registry.get_sample_value("cti_reports_failing") == 1
    assert registry.get_sample_value("cti_reports_failures_total", {"stage": "build"}) == 1
    assert [p.name for p in (tmp_path / "reports").iterdir()] == []  # nothing half-built kept

    clock.now = jst(2027, 5, 6, 8, 45)  # after Golden Week: April too (March is still missing)
    await schedule.check()
    assert sorted(await _actions(sessions, "report.build_failed")) == ["2027-03", "2027-03", "2027-04"]
    assert registry.get_sample_value("cti_reports_failures_total", {"stage": "build"}) == 3


class _NoMail:
    async def send(self, message: object) -> None:
        raise AssertionError("nothing is built, so nothing may be mailed")


async def test_a_refused_mail_alerts_and_is_sent_at_a_later_check(
        sessions: Sessions, database_url: str, make_settings: Callable[..., Settings],
        tmp_path: Path, mail: MailCatcher) -> None:
    settings = make_settings(database_url, CTI_SMTP_HOST="127.0.0.1", CTI_SMTP_PORT=str(mail.port),
                             CTI_REPORTS_FOLDER=str(tmp_path / "kept"))
    month = Month(2027, 4)
    folder = tmp_path / "kept" / "2027-04" / "v1"
    folder.mkdir(parents=True)
    doc = await month_set(settings, sessions, month, jst(2027, 5, 6, 8, 45))
    workbook = write_workbook(doc, folder)
    digest = hashlib.sha256(workbook.read_bytes()).hexdigest()
    files = {workbook.name: {"sha256": digest, "bytes": workbook.stat().st_size,
                             "content_type": content_type(workbook.name)}}
    await store.add_produced(sessions, store.NewProducedReport(
        "2027-04", "schedule", "cti-scheduler", jst(2027, 5, 6, 8, 45), "2027-04/v1", files,
        set_checksum({workbook.name: digest}), 0), 1)
    registry = CollectorRegistry()
    clock = FixedClock(jst(2027, 5, 6, 8, 46))
    schedule = ReportSchedule(settings, sessions, clock, Mailer.from_settings(settings),
                              ReportMetrics(registry))
    mail.refuse = set(settings.reports.recipients)

    await schedule.check()
    [failed] = await store.list_produced(sessions)
    assert failed.mailed_at is None and failed.mail_attempts == 1 and "550" in (failed.mail_error or "")
    assert registry.get_sample_value("cti_reports_failing") == 1
    assert registry.get_sample_value("cti_reports_failures_total", {"stage": "mail"}) == 1
    assert await _actions(sessions, "report.mail_failed") == ["2027-04"]

    mail.refuse = set()
    clock.now = jst(2027, 5, 6, 9, 46)
    await schedule.check()
    [message] = await mail.wait_for(1)
    assert [p.get_filename() for p in message.iter_attachments()] == [workbook.name]
    [sent] = await store.list_produced(sessions)
    assert sent.mailed_at == clock.now and sent.mail_attempts == 2 and sent.mail_error is None
    assert registry.get_sample_value("cti_reports_failing") == 0
    assert await _actions(sessions, "report.mailed") == ["2027-04"]
