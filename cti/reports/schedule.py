"""When the service builds a month's set by itself, and the task that does it.

``due_at`` and ``due_months`` are pure (the instant is an argument; the business calendar decides):
a month's set is due at the first business-day opening after the month ends, except March's,
which is due at closing time of March's last business day (contract: March's papers are handed
over on March 31 itself). At start and after every wake-up the task builds every due month not
yet kept (a service that was down over the boundary catches up), mails the sets not yet mailed,
audits each run and counts failures in ``cti_reports_failures_total`` / ``cti_reports_failing``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Protocol

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy.exc import SQLAlchemyError

from cti.clock import Clock
from cti.config import BusinessCalendar, Settings
from cti.escalation.mailer import Mailer, MailNotSent
from cti.reports.archive import TamperedFile, keep
from cti.reports.mail import compose
from cti.reports.pdf import PdfFailed
from cti.reports.period import Month
from cti.storage import audit
from cti.storage import reports as store
from cti.storage.reports import ProducedReport, Sessions

log = structlog.get_logger()
MAX_SLEEP_S = 3600.0  # look again at least hourly (a changed calendar, a retry of the mail)
CATCH_UP_DAYS = 62  # a set that fell due longer ago than this is left to a person
LATE_AFTER = timedelta(minutes=15)  # built later than this after its due time: a catch-up
MAIL_ATTEMPTS = 8
ACTOR = "cti-scheduler"


class Sends(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


def due_at(month: Month, calendar: BusinessCalendar) -> datetime:
    zone = calendar.zone
    if month.month == 3:
        day = datetime(month.year, 3, 31, tzinfo=zone).date()
        for _ in range(31):
            if calendar.is_business_day(day):
                return calendar.opening(day)[1]
            day -= timedelta(days=1)
    start = month.next().bounds(zone)[0]
    return calendar.next_open(start)


def due_months(now: datetime, calendar: BusinessCalendar, kept: set[str],
               first: Month | None) -> list[Month]:
    """Months whose set is due by ``now`` and not kept yet, oldest first (none before ``first``,
    the month of the first ticket, and none that fell due more than CATCH_UP_DAYS ago)."""
    if first is None:
        return []
    current = Month.of(now, calendar.zone)
    months = []
    month = current
    for _ in range(4):  # this month (March) and the three before
        if month < first:
            break
        due = due_at(month, calendar)
        if month.text not in kept and due <= now and now - due <= timedelta(days=CATCH_UP_DAYS):
            months.append(month)
        month = month.previous()
    return sorted(months)


def next_check(now: datetime, calendar: BusinessCalendar) -> datetime:
    """When to look again: the next due time of this or last month, at most an hour away."""
    current = Month.of(now, calendar.zone)
    upcoming = [d for d in (due_at(current.previous(), calendar), due_at(current, calendar)) if d > now]
    return min([now + timedelta(seconds=MAX_SLEEP_S), *upcoming])


class ReportMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.built = Counter("cti_reports_built", "Monthly report sets built and kept", ["trigger"],
                             registry=registry)
        self.failures = Counter("cti_reports_failures", "Failed monthly report builds or mails",
                                ["stage"], registry=registry)
        self.failing = Gauge("cti_reports_failing",
                             "1 while the last automatic build or mail of a monthly set failed",
                             registry=registry)
        for trigger in ("schedule", "catch_up"):
            self.built.labels(trigger)
        for stage in ("build", "mail"):
            self.failures.labels(stage)


class ReportSchedule:
    def __init__(self, settings: Settings, sessions: Sessions, clock: Clock, mailer: Sends,
                 metrics: ReportMetrics) -> None:
        self._settings = settings
        self._sessions = sessions
        self._clock = clock
        self._mailer = mailer
        self._metrics = metrics
        self._calendar = BusinessCalendar(settings.hours)
        self._wake = asyncio.Event()
        self._progress = asyncio.Condition()
        self.checks = 0  # completed checks, for whoever waits on progress

    def wake(self) -> None:
        self._wake.set()

    async def wait_check(self, after: int) -> None:
        """Wait until more than ``after`` checks have completed (bound it with asyncio.timeout)."""
        async with self._progress:
            await self._progress.wait_for(lambda: self.checks > after)

    async def check(self) -> list[ProducedReport]:
        """Build what is due, then mail what is unmailed; returns the sets built."""
        now = self._clock()
        first_at = await store.first_received_at(self._sessions)
        first = Month.of(first_at, self._calendar.zone) if first_at else None
        kept = await store.produced_months(self._sessions)
        built = []
        failed = False
        for month in due_months(now, self._calendar, kept, first):
            late = now - due_at(month, self._calendar) > LATE_AFTER
            trigger = "catch_up" if late else "schedule"
            try:
                report = await keep(self._settings, self._sessions, month, now, trigger=trigger,
                                    built_by=ACTOR)
            except (PdfFailed, OSError, SQLAlchemyError, ValueError) as exc:
                failed = True
                self._metrics.failures.labels("build").inc()
                log.error("reports.build_failed", month=month.text, error=type(exc).__name__,
                          detail=str(exc)[:300])
                await self._audit(now, "report.build_failed", month.text, {"error": str(exc)[:300]})
                continue
            built.append(report)
            self._metrics.built.labels(trigger).inc()
            log.info("reports.built", month=month.text, version=report.version, trigger=trigger,
                     received=report.received)
            await self._audit(now, "report.built", month.text, {
                "version": report.version, "trigger": trigger, "checksum": report.checksum})
        failed = not await self._mail_pending(now) or failed
        self._metrics.failing.set(1 if failed else 0)
        async with self._progress:
            self.checks += 1
            self._progress.notify_all()
        return built

    async def _mail_pending(self, now: datetime) -> bool:
        ok = True
        recipients = self._settings.reports.recipients
        for report in await store.unmailed(self._sessions):
            if not recipients:
                log.warning("reports.no_recipients", month=report.month)
                return True
            if report.mail_attempts >= MAIL_ATTEMPTS:  # a person must look: keep alerting
                log.error("reports.mail_given_up", month=report.month, attempts=report.mail_attempts,
                          error=(report.mail_error or "")[:300])
                ok = False
                continue
            try:
                await self._mailer.send(await asyncio.to_thread(compose, self._settings, report))
            except (MailNotSent, TamperedFile, OSError, ValueError) as exc:
                ok = False
                detail = f"{type(exc).__name__}: {exc}"[:500]
                await store.record_mail(self._sessions, report.id, now, detail)
                self._metrics.failures.labels("mail").inc()
                log.error("reports.mail_failed", month=report.month, error=detail)
                await self._audit(now, "report.mail_failed", report.month, {"error": detail})
                continue
            await store.record_mail(self._sessions, report.id, now, None)
            log.info("reports.mailed", month=report.month, version=report.version,
                     recipients=len(recipients))
            await self._audit(now, "report.mailed", report.month,
                              {"version": report.version, "recipients": len(recipients)})
        return ok

    async def _audit(self, now: datetime, action: str, target: str, detail: dict[str, object]) -> None:
        await audit.record(self._sessions, audit.AuditEntry(now, ACTOR, "system", action, target, detail))

    async def run(self) -> None:
        """Check at start, then at each due time (and at least hourly) until cancelled."""
        while True:
            try:
                await self.check()
            except (SQLAlchemyError, OSError) as exc:
                self._metrics.failing.set(1)
                log.error("reports.check_failed", error=type(exc).__name__, detail=str(exc)[:300])
            now = self._clock()
            delay = max(1.0, (next_check(now, self._calendar) - now).total_seconds())
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()


Context = Callable[[web.Application], AsyncIterator[None]]


def schedule_context(mailer: Sends | None = None) -> Context:
    """The aiohttp ``cleanup_ctx`` that owns the schedule's task (after the database context)."""
    from cti.keys import CLOCK, REGISTRY, REPORT_SCHEDULE, SESSIONS, SETTINGS

    async def context(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        schedule = ReportSchedule(settings, app[SESSIONS], app[CLOCK],
                                  mailer or Mailer.from_settings(settings),
                                  ReportMetrics(app[REGISTRY]))
        app[REPORT_SCHEDULE] = schedule
        task = None
        if settings.reports.automatic:
            task = asyncio.create_task(schedule.run(), name="report-schedule")
            log.info("reports.schedule_started", recipients=len(settings.reports.recipients))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    return context
