"""Builds every object of the service and wires them together. Nothing else constructs them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry

from cti.auth import Authenticator
from cti.clock import Clock, utc_now
from cti.config import BusinessCalendar, Settings
from cti.hours import HelpdeskHours
from cti.keys import AUTH, CLOCK, ENGINE, HOURS, REGISTRY, SESSIONS, SETTINGS
from cti.storage import create_engine, require_current, session_factory
from cti.storage.operators import OperatorRecord, sync_operators
from cti.storage.users import count_users
from cti.web import calendar, health, session
from cti.web.middleware import errors_as_json
from cti.web.security import require_roles

log = structlog.get_logger()


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
    app.cleanup_ctx.append(_database)
    for table in (health.routes, session.routes, calendar.routes):
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
            log.warning("auth.no_users",
                        hint="create one: cti user add NAME --role admin (password from CTI_PASSWORD)")
        log.info("database.ready", backend=engine.dialect.name)
        yield
    finally:
        await engine.dispose()
        log.info("database.closed")
