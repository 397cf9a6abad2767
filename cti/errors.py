"""Errors that reach an HTTP client. Each has a stable ``error_id``, a status and whose fault it is.

One middleware (``cti.web.middleware``) turns them into JSON responses; nothing else formats errors.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

Fault = Literal["client", "server", "upstream"]


class CtiError(Exception):
    error_id: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500
    fault: ClassVar[Fault] = "server"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def as_json(self) -> dict[str, Any]:
        return {
            "error_id": self.error_id,
            "message": self.message,
            "fault": self.fault,
            "details": self.details,
        }


class InvalidRequest(CtiError):
    error_id = "invalid_request"
    status = 400
    fault = "client"


class NotAuthenticated(CtiError):
    error_id = "not_authenticated"
    status = 401
    fault = "client"


class Forbidden(CtiError):
    error_id = "forbidden"
    status = 403
    fault = "client"


class NotFound(CtiError):
    error_id = "not_found"
    status = 404
    fault = "client"


class Conflict(CtiError):
    error_id = "conflict"
    status = 409
    fault = "client"


class DatabaseUnavailable(CtiError):
    error_id = "database_unavailable"
    status = 503
    fault = "upstream"


class IllegalTransition(CtiError):
    error_id = "illegal_transition"
    status = 409
    fault = "client"


class StaleWrite(CtiError):
    error_id = "stale_write"
    status = 409
    fault = "client"
