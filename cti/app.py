"""Builds every object of the service and wires them together. Nothing else constructs them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from cti.access.throttle import LoginThrottle
from cti.auth import Authenticator
from cti.calls.center import CallCenter
from cti.calls.wiring import ivr_settings, routing_rules
from cti.clock import Clock, utc_now
from cti.config import BusinessCalendar, Settings
from cti.escalation.wiring import Context as EscalationContext
from cti.escalation.wiring import escalation_context
from cti.floor.bindings import binding_problems
from cti.floor.feed import ConsoleFeed
from cti.floor.hours import HelpdeskHours
from cti.floor.incidents import IncidentBoard
from cti.floor.roster import load_roster
from cti.ha import forward as ha_forward
from cti.ha import wiring as ha
from cti.keys import (
    AUTH,
    CALL_CENTER,
    CALLER_IDS,
    CLOCK,
    CONSOLE_SOCKETS,
    ENGINE,
    FEED,
    HOURS,
    INCIDENTS,
    METRICS,
    NODE,
    REDACTOR,
    REGISTRY,
    ROSTER,
    SESSIONS,
    SETTINGS,
    TICKET_WRITER,
)
from cti.metrics import CtiMetrics
from cti.privacy import secret as privacy
from cti.privacy.caller_id import NotAPhoneNumber
from cti.reports.schedule import Sends as ReportSends
from cti.reports.schedule import schedule_context
from cti.routing import Router
from cti.sip.control import CallControl
from cti.storage import create_engine, require_current, session_factory
from cti.storage.recovery import close_unfinished_calls
from cti.storage.tickets import count_calls_since
from cti.storage.users import list_users
from cti.tickets.journal import Journal
from cti.tickets.writer import TicketWriter
from cti.web import (
    admin,
    calendar,
    console,
    desk,
    escalations,
    floor,
    health,
    incidents,
    knowledge,
    openapi,
    planning,
    records,
    reports,
    session,
    tickets,
)
from cti.web.middleware import errors_as_json, security_headers
from cti.web.security import require_roles

log = structlog.get_logger()


class StartupFailed(RuntimeError):
    """One part of the service could not start; ``part`` names it (database, journal, SIP port),
    ``what`` says what failed where, ``detail`` why."""

    def __init__(self, part: str, what: str, detail: str) -> None:
        super().__init__(f"{part}: {what}: {detail}")
        self.part = part
        self.what = what
        self.detail = detail


SHUTDOWN_FLUSH_S = 5.0  # the journal keeps what is not flushed by then
RECOVERY_FLUSH_S = 30.0  # applying the journal before closing calls a crash left open


def build_app(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    registry: CollectorRegistry | None = None,
    control: CallControl | None = None,
    escalation: EscalationContext | None = None,
    report_mailer: ReportSends | None = None,
) -> web.Application:
    """The whole service. ``control`` replaces the SIP front door (tests pass an in-memory one);
    ``escalation`` replaces the escalation context (tests pass faster retry timings);
    ``report_mailer`` replaces the monthly reports' SMTP mailer."""
    app = web.Application(middlewares=[errors_as_json, ha_forward.forward_to_active, require_roles],
                          client_max_size=1024**2)
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[REGISTRY] = registry if registry is not None else CollectorRegistry()
    app[REDACTOR] = privacy.redactor(settings)
    app[CALLER_IDS] = privacy.caller_id_policy(settings)
    app[FEED] = ConsoleFeed()
    app[INCIDENTS] = IncidentBoard()
    app[CONSOLE_SOCKETS] = set()
    app.on_shutdown.append(floor.close_consoles)
    app.on_response_prepare.append(security_headers)
    app.on_response_prepare.append(ha_forward.say_which_node)
    calendar_ = BusinessCalendar(settings.hours)
    app[METRICS] = CtiMetrics(
        app[REGISTRY], baseline=settings.baseline, services=[s.id for s in settings.services],
        service_level_threshold_s=settings.metrics.service_level_seconds,
        service_level_target=settings.metrics.service_level_target,
        is_business_day=calendar_.is_business_day, opens=settings.hours.open,
        closes=settings.hours.close, tz=settings.hours.timezone, clock=clock,
        is_open_at=lambda at: app[HOURS].status(at).open if HOURS in app else False,
    )
    app.cleanup_ctx.append(lambda app: _database(app, calendar_))
    app.cleanup_ctx.append(ha.node_context)  # HA pair: this node, before anything takes calls
    app.cleanup_ctx.append(_ticket_writer)
    app.cleanup_ctx.append(lambda app: _call_center(app, control))
    app.cleanup_ctx.append(ha.lease_context)  # HA pair: the lease task; gives it up first on stop
    app.cleanup_ctx.append(ha_forward.client_context)  # HA pair: the standby forwards consoles
    app.cleanup_ctx.append(escalation or escalation_context(
        reply_base_url=settings.escalation.reply_base_url or None))
    app.cleanup_ctx.append(schedule_context(report_mailer))
    for table in (health.routes, session.routes, calendar.routes, tickets.routes, floor.routes,
                  planning.routes, incidents.routes, escalations.routes,
                  reports.routes, console.routes, knowledge.routes, desk.routes,
                  records.routes, openapi.routes, admin.routes):
        app.add_routes(table)
    return app


async def _database(app: web.Application, calendar_: BusinessCalendar) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = create_engine(settings.database.url)
    where = make_url(settings.database.url).render_as_string(hide_password=True)
    try:
        try:
            await require_current(engine)
        except (OSError, TimeoutError, DBAPIError) as exc:
            raise StartupFailed("database", f"cannot reach the database {where}",
                                _reason(exc)) from exc
        sessions = session_factory(engine)
        app[ENGINE] = engine
        app[SESSIONS] = sessions
        app[AUTH] = Authenticator(sessions, timedelta(hours=settings.http.session_hours),
                                  LoginThrottle(settings.auth))
        hours = HelpdeskHours(calendar_, settings.hours.override, sessions)
        await hours.load()
        app[HOURS] = hours
        now = app[CLOCK]()
        roster = await load_roster(sessions, settings, now)
        app[ROSTER] = roster
        month_start = now.astimezone(settings.hours.timezone).replace(
            day=1, hour=0, minute=0, second=0, microsecond=0)
        app[METRICS].month_to_date(await count_calls_since(sessions, month_start), now)
        known = await list_users(sessions)
        if not known:
            log.warning("auth.no_users",
                        hint="create one: cti user add NAME --role admin (password from CTI_PASSWORD)")
        for problem in binding_problems(known, roster.active_ids()):
            log.warning("auth.operator_binding", kind=problem.kind, subject=problem.subject,
                        detail=problem.message)
        log.info("database.ready", backend=engine.dialect.name)
        yield
    finally:
        await engine.dispose()
        log.info("database.closed")


async def _ticket_writer(app: web.Application) -> AsyncIterator[None]:
    """Owns the journal and the task that drains it into the database."""
    path = Path(app[SETTINGS].database.journal)
    try:
        journal = Journal(path)
    except OSError as exc:
        raise StartupFailed("journal", f"cannot open the journal {path}", _reason(exc)) from exc
    metrics = app[METRICS]
    writer = TicketWriter(journal, app[SESSIONS], app[CLOCK],
                          on_write_error=metrics.ticket_write_failed,
                          on_rejected=metrics.ticket_rejected)
    app[TICKET_WRITER] = writer
    metrics.watch_ticket_queue(lambda: writer.queued)
    task = asyncio.create_task(writer.run(), name="ticket-writer")
    if journal.backlog_bytes:
        log.warning("tickets.journal_backlog", backlog_bytes=journal.backlog_bytes)
    try:
        await _close_unfinished_calls(app, writer, journal)
        yield
    finally:
        try:
            async with asyncio.timeout(SHUTDOWN_FLUSH_S):
                await writer.flush()
        except TimeoutError:
            log.warning("tickets.shutdown_with_backlog", backlog_bytes=writer.backlog_bytes)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        journal.close()


async def _close_unfinished_calls(app: web.Application, writer: TicketWriter,
                                  journal: Journal) -> None:
    """Before the service takes calls: close the calls a crash left open (cti.tickets.recovery).

    The journal is applied first, so that an end recorded on disk but not yet in the database
    wins; calls that still have events waiting there (database refusing) are left for next time.
    """
    started = time.monotonic()
    try:
        async with asyncio.timeout(RECOVERY_FLUSH_S):
            await writer.flush()
    except TimeoutError:
        log.warning("calls.recovery_journal_not_applied", backlog_bytes=writer.backlog_bytes)
    applied = time.monotonic()
    waiting = await asyncio.to_thread(journal.pending_call_ids)
    result = await close_unfinished_calls(app[SESSIONS], app[CLOCK](), skip=waiting,
                                          owned=ha.own_calls(app))
    timing = {"journal_s": round(applied - started, 2),
              "close_s": round(time.monotonic() - applied, 2)}
    if result.closed or result.skipped or result.failed:
        log.warning("calls.recovered", closed=result.closed, skipped=result.skipped,
                    failed=result.failed, by_state=result.by_state, **timing)
    else:
        log.info("calls.recovered", closed=0, skipped=0, **timing)


async def _call_center(app: web.Application, control: CallControl | None) -> AsyncIterator[None]:
    """Owns the SIP front door (or the given control), the router and the call-centre task."""
    settings = app[SETTINGS]
    if control is None and settings.sip.mode != "off":
        from cti.calls.wiring import prompt_dir, sip_settings
        from cti.sip.adapter import SipFrontDoor  # the only place the SIP stack is built
        from cti.sip.audio import PromptLibrary

        control = SipFrontDoor(sip_settings(settings), PromptLibrary(prompt_dir()))
        control.admits = app[NODE].admits  # HA pair: the standby answers 503
    caller_ids = app[CALLER_IDS]
    tags = set()
    for number in settings.routing.priority_callers:
        try:
            tags.add(caller_ids.hash(number))
        except NotAPhoneNumber:
            log.warning("routing.priority_caller_ignored", number=number)
    center = CallCenter(
        control, Router(routing_rules(settings, frozenset(tags), app[ROSTER].active()),
                        structlog.get_logger("cti.routing").bind()), app[HOURS],
        ivr_settings(settings), app[TICKET_WRITER], caller_ids, app[METRICS], app[FEED],
        {o.id: o.uri for o in app[ROSTER].active()},
        ring_timeout_s=float(settings.routing.ring_timeout_seconds), clock=app[CLOCK],
        monotonic=time.monotonic,
        incident_prompt=lambda: _incident_prompt(app),
        node=app[NODE].node_id if app[NODE].paired else "", admits=app[NODE].admits,
    )
    app[CALL_CENTER] = center
    app[TICKET_WRITER].on_applied = center.ticket_applied
    if control is not None:
        try:
            await control.start()
        except OSError as exc:
            binds = (settings.sip.listen, settings.sip.also_listen)
            where = " and ".join(str(a) for a in binds if a is not None)
            raise StartupFailed("SIP port", f"cannot listen on udp {where}",
                                _reason(exc)) from exc
    task = asyncio.create_task(center.run(), name="call-center")
    log.info("call_center.started", sip_mode=settings.sip.mode if control else "off")
    try:
        yield
    finally:
        if control is not None:
            await control.stop()  # ends every call: their CallEnded events are still handled
            try:
                async with asyncio.timeout(SHUTDOWN_FLUSH_S):
                    await center.wait_for(lambda: not center.active_calls)
            except TimeoutError:
                log.warning("call_center.shutdown_with_calls", calls=len(center.active_calls))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        log.info("call_center.stopped")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    cause = exc.__cause__  # uvloop: OSError("could not bind ...") from OSError(98, "...")
    if isinstance(exc, OSError) and isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]


def _incident_prompt(app: web.Application) -> str | None:
    notice = app[INCIDENTS].current(app[CLOCK]())
    return notice.prompt if notice else None
