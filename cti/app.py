"""Builds every object of the service and wires them together. Nothing else constructs them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry

from cti import privacy
from cti.auth import Authenticator
from cti.clock import Clock, utc_now
from cti.config import BusinessCalendar, Settings
from cti.hours import HelpdeskHours
from cti.keys import (
    AUTH,
    CALLER_IDS,
    CLOCK,
    ENGINE,
    HOURS,
    REDACTOR,
    REGISTRY,
    SESSIONS,
    SETTINGS,
    TICKET_WRITER,
)
from cti.storage import create_engine, require_current, session_factory
from cti.storage.operators import OperatorRecord, sync_operators
from cti.storage.users import count_users
from cti.tickets.journal import Journal
from cti.tickets.writer import TicketWriter
from cti.web import calendar, health, session, tickets
from cti.web.middleware import errors_as_json
from cti.web.security import require_roles

log = structlog.get_logger()
SHUTDOWN_FLUSH_S = 5.0  # the journal keeps what is not flushed by then


def build_app(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    registry: CollectorRegistry | None = None,
) -> web.Application:
    app = web.Application(middlewares=[errors_as_json, require_roles], client_max_size=1024**2)
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[REGISTRY] = registry if registry is not None else CollectorRegistry()
    app[REDACTOR] = privacy.redactor(settings)
    app[CALLER_IDS] = privacy.caller_id_policy(settings)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_ticket_writer)
    for table in (health.routes, session.routes, calendar.routes, tickets.routes):
        app.add_routes(table)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = create_engine(settings.database.url)
    try:
        await require_current(engine)
        sessions = session_factory(engine)
        app[ENGINE] = engine
        app[SESSIONS] = sessions
        app[AUTH] = Authenticator(sessions, timedelta(hours=settings.http.session_hours))
        hours = HelpdeskHours(BusinessCalendar(settings.hours), settings.hours.override, sessions)
        await hours.load()
        app[HOURS] = hours
        await sync_operators(
            sessions,
            [OperatorRecord(o.id, o.name, o.uri, o.skills) for o in settings.operators],
            app[CLOCK](),
        )
        if await count_users(sessions) == 0:
            log.warning(
                "auth.no_users",
                hint="create one: cti user add NAME --role admin (password from CTI_PASSWORD)",
            )
        log.info("database.ready", backend=engine.dialect.name)
        yield
    finally:
        await engine.dispose()
        log.info("database.closed")


async def _ticket_writer(app: web.Application) -> AsyncIterator[None]:
    """Owns the journal and the task that drains it into the database."""
    journal = Journal(Path(app[SETTINGS].database.journal))
    writer = TicketWriter(journal, app[SESSIONS], app[CLOCK])
    app[TICKET_WRITER] = writer
    task = asyncio.create_task(writer.run(), name="ticket-writer")
    if journal.backlog_bytes:
        log.warning("tickets.journal_backlog", backlog_bytes=journal.backlog_bytes)
    try:
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
