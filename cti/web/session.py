"""Logging in and out of the console: ``/api/session``.

Login attempts pass the throttle first: a locked user name or a throttled address gets 429 with
``Retry-After``. Each failed login is logged with the user name and source address (never the
password); a lock-out is also written to the audit log.
"""

from __future__ import annotations

import structlog
from aiohttp import web

from cti.clock import wire_time
from cti.errors import CtiError, InvalidRequest, NotAuthenticated
from cti.keys import AUTH, CLOCK, SESSIONS, SETTINGS
from cti.storage import audit
from cti.web.body import helpdesk_zone, json_object, reply, string_field
from cti.web.openapi import BOOLEAN, STRING, documented, obj
from cti.web.security import SESSION_COOKIE, allow_any_user, check_origin, principal, public

log = structlog.get_logger()
routes = web.RouteTableDef()


class TooManyAttempts(CtiError):
    error_id = "too_many_login_attempts"
    status = 429
    fault = "client"

    def __init__(self, message: str, retry_after: int, **details: object) -> None:
        super().__init__(message, retry_after_s=retry_after, **details)
        self.retry_after = retry_after


def source_address(request: web.Request) -> str:
    """The client's address; behind a trusted proxy, the address that proxy saw."""
    peer = request.remote or "unknown"
    if peer in request.app[SETTINGS].http.trusted_proxies:
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
        if forwarded:
            return forwarded[:64]
    return peer[:64]


ROLE = {"enum": ["operator", "supervisor", "manager", "admin"]}


@routes.post("/api/session")
@public
@documented(body={"type": "object", "required": ["username", "password"], "properties": {
    "username": {"type": "string", "maxLength": 64},
    "password": {"type": "string", "maxLength": 256}}}, response=obj(user=STRING, role=ROLE))
async def login(request: web.Request) -> web.Response:
    check_origin(request, required=False)  # login CSRF: another origin's page logging us in
    body = await json_object(request)
    username = string_field(body, "username", max_length=64)
    password = string_field(body, "password", max_length=256)
    address = source_address(request)
    now = request.app[CLOCK]()
    result = await request.app[AUTH].login(username, password, address, now)
    if result.refused is not None:
        log.warning("auth.login_refused", user=username, address=address,
                    reason=result.refused.reason, retry_after_s=result.refused.retry_after_s)
        raise TooManyAttempts(
            "ログイン試行が多すぎます。しばらくしてから再試行してください / too many failed logins: "
            f"try again in {result.refused.retry_after_s} s",
            result.refused.retry_after_s, reason=result.refused.reason)
    if result.session_id is None or result.principal is None:
        log.warning("auth.login_failed", user=username, address=address)
        for lock in result.lockouts:
            log.warning("auth.locked_out", kind=lock.kind, user=username, address=address,
                        failures=lock.failures, until=lock.until.isoformat())
            await audit.record(request.app[SESSIONS], audit.AuditEntry(
                now, username, "-", f"auth.lockout_{lock.kind}", lock.key[:128],
                {"user": username, "address": address, "failures": lock.failures,
                 "until": wire_time(lock.until, helpdesk_zone(request))}))
        raise NotAuthenticated("wrong user name or password")
    who = result.principal
    log.info("auth.login", user=who.name, role=who.role.value, address=address)
    response = reply({"user": who.name, "role": who.role.value})
    http = request.app[SETTINGS].http
    response.set_cookie(
        SESSION_COOKIE,
        result.session_id,
        httponly=True,
        samesite="Strict",
        path="/",
        secure=http.secure_cookie or request.secure,
        max_age=http.session_hours * 3600,
    )
    return response


@routes.get("/api/session")
@allow_any_user
@documented(response=obj(user=STRING, role=ROLE, via={"enum": ["session", "token"]}))
async def whoami(request: web.Request) -> web.Response:
    who = principal(request)
    return reply({"user": who.name, "role": who.role.value, "via": who.via})


@routes.delete("/api/session")
@allow_any_user
@documented(response=obj(ended=BOOLEAN))
async def logout(request: web.Request) -> web.Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise InvalidRequest("no session cookie to end (bearer tokens do not log out)")
    await request.app[AUTH].logout(cookie)
    response = reply({"ended": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response
