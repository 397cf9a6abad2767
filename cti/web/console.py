"""The browser console (static files) and the service list it needs."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from aiohttp import web

from cti.keys import SETTINGS
from cti.web.body import reply
from cti.web.openapi import STRING, array, documented, obj
from cti.web.security import allow_any_user

routes = web.RouteTableDef()
STATIC = Path(str(resources.files("cti.web").joinpath("static")))


@routes.get("/")
async def root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/console/")


@routes.get("/console/")
async def console(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


routes.static("/console", STATIC)


@routes.get("/api/services")
@allow_any_user
@documented(response=obj(services=array(obj(
    id=STRING, digit=STRING, name_ja=STRING, name_en=STRING, categories=array(STRING)))))
async def services(request: web.Request) -> web.Response:
    return reply({"services": [
        {"id": s.id, "digit": s.digit, "name_ja": s.name_ja, "name_en": s.name_en,
         "categories": list(s.categories)} for s in request.app[SETTINGS].services]})
