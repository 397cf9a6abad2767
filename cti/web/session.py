"""Logging in and out of the console: ``/api/session``."""

from __future__ import annotations

from aiohttp import web

from cti.errors import InvalidRequest, NotAuthenticated
from cti.keys import AUTH, CLOCK, SETTINGS
from cti.web.body import json_object, reply, string_field
from cti.web.security import SESSION_COOKIE, allow_any_user, principal, public

routes = web.RouteTableDef()


@routes.post("/api/session")
@public
async def login(request: web.Request) -> web.Response:
    body = await json_object(request)
    username = string_field(body, "username", max_length=64)
    password = string_field(body, "password", max_length=256)
    result = await request.app[AUTH].login(username, password, request.app[CLOCK]())
    if result is None:
        raise NotAuthenticated("wrong user name or password")
    session_id, who = result
    response = reply({"user": who.name, "role": who.role.value})
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        httponly=True,
        samesite="Strict",
        path="/",
        max_age=request.app[SETTINGS].http.session_hours * 3600,
    )
    return response


@routes.get("/api/session")
@allow_any_user
async def whoami(request: web.Request) -> web.Response:
    who = principal(request)
    return reply({"user": who.name, "role": who.role.value, "via": who.via})


@routes.delete("/api/session")
@allow_any_user
async def logout(request: web.Request) -> web.Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise InvalidRequest("no session cookie to end (bearer tokens do not log out)")
    await request.app[AUTH].logout(cookie)
    response = reply({"ended": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response
