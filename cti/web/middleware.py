"""The one place errors become HTTP responses, and the headers every response carries.

Every error is JSON ``{"error_id", "message", "fault", "details"}``: our own errors as they are;
aiohttp's HTTP exceptions by status; a database that cannot be reached is a 503; anything else is a
500 whose traceback is logged under a random ``reference`` that the client also gets. No exception
text, SQL or parameter ever reaches a client.
"""

from __future__ import annotations

import secrets

import structlog
from aiohttp import hdrs, web
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from cti.errors import CtiError, DatabaseUnavailable
from cti.keys import SETTINGS
from cti.web.body import check_url, reply
from cti.web.security import Handler

log = structlog.get_logger()
# SQLSTATE classes that mean "the database is not there right now", not "our query was wrong":
# connection exception, insufficient resources, operator intervention, system error, no database.
TRANSIENT_SQLSTATES = ("08", "53", "57", "58", "3D000")
SQLITE_TRANSIENT = ("locked", "busy", "unable to open", "disk i/o", "readonly", "disk is full")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        check_url(request)
        return await handler(request)
    except CtiError as exc:
        return _respond(request, exc)
    except (InterfaceError, PoolTimeout, ConnectionError, OSError) as exc:
        return _unavailable(request, exc)
    except DBAPIError as exc:
        if _transient(exc):
            return _unavailable(request, exc)
        return _internal(request, exc, sqlstate=getattr(exc.orig, "sqlstate", None))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k in (hdrs.ALLOW, hdrs.RETRY_AFTER)}
        response = reply(
            {"error_id": f"http_{exc.status}", "message": exc.reason, "fault": "client", "details": {}},
            status=exc.status,
        )
        response.headers.update(headers)
        return response
    except Exception as exc:  # the catch-all: a bug of ours must still answer JSON, never a trace
        return _internal(request, exc)


def _transient(exc: DBAPIError) -> bool:
    """The database is away or busy (503), rather than our statement being wrong (500)."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate:
        return str(sqlstate).startswith(TRANSIENT_SQLSTATES)
    if exc.connection_invalidated:
        return True
    # SQLite says OperationalError both for "database is locked" and for "no such table".
    return isinstance(exc, OperationalError) and any(
        word in str(exc.orig).lower() for word in SQLITE_TRANSIENT)


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
    response = reply(exc.as_json(), status=exc.status)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        response.headers[hdrs.RETRY_AFTER] = str(retry_after)
    return response


def _unavailable(request: web.Request, exc: Exception) -> web.Response:
    orig = getattr(exc, "orig", None)
    log.warning("http.database_unavailable", path=request.path, method=request.method,
                error=type(exc).__name__, cause=type(orig).__name__ if orig else None)
    return reply(DatabaseUnavailable("the database is unavailable; try again shortly").as_json(),
                 status=503)


def _internal(request: web.Request, exc: Exception, **context: object) -> web.Response:
    reference = secrets.token_hex(6)
    if isinstance(exc, DBAPIError):
        # The statement and its parameters may hold personal data: log the kinds, not the text.
        log.error("http.internal_error", reference=reference, path=request.path,
                  method=request.method, error=type(exc).__name__,
                  cause=type(exc.orig).__name__, **context)
    else:
        log.exception("http.internal_error", reference=reference, path=request.path,
                      method=request.method, error=type(exc).__name__)
    body = {"error_id": "internal_error",
            "message": f"internal error; quote reference {reference} to the administrator",
            "fault": "server", "details": {"reference": reference}}
    return reply(body, status=500)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: CSP, no sniffing, no framing, no referrer; HSTS over HTTPS."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/api/"):
        response.headers.setdefault(hdrs.CACHE_CONTROL, "no-store")
    if request.secure or request.app[SETTINGS].http.secure_cookie:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
