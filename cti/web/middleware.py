"""The one place errors become HTTP responses."""

from __future__ import annotations

import structlog
from aiohttp import web
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from cti.errors import CtiError, DatabaseUnavailable
from cti.web.body import reply
from cti.web.security import Handler

log = structlog.get_logger()


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except CtiError as exc:
        return _respond(request, exc)
    except (OperationalError, InterfaceError, DBAPIError, ConnectionError, OSError) as exc:
        return _respond(request, DatabaseUnavailable("the database is unavailable", reason=str(exc)[:200]))
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith("/api/"):
            raise
        return reply(
            {"error_id": f"http_{exc.status}", "message": exc.reason, "fault": "client", "details": {}},
            status=exc.status,
        )


def _respond(request: web.Request, exc: CtiError) -> web.Response:
    event = "http.client_error" if exc.fault == "client" else "http.server_error"
    log.warning(
        event,
        error_id=exc.error_id,
        status=exc.status,
        path=request.path,
        method=request.method,
        message=exc.message,
    )
    return reply(exc.as_json(), status=exc.status)
