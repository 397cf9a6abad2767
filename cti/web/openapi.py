"""The API describes itself: an OpenAPI 3.1 document built from the application's route table
(paths, methods, path parameters, the roles each handler declares, its docstring) and the
request/response schemas a handler declares with ``@documented`` beside its code. Served at
``/api/openapi.json``; ``/api/docs`` renders it for people."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from cti.web.security import declared_roles, public

routes = web.RouteTableDef()
H = TypeVar("H", bound=Callable[..., Any])
_DOC_ATTR = "__cti_doc__"
OBJECT: dict[str, Any] = {"type": "object"}
ERROR = {
    "type": "object", "required": ["error_id", "message", "fault"],
    "properties": {"error_id": {"type": "string"}, "message": {"type": "string"},
                   "fault": {"enum": ["client", "server", "upstream"]},
                   "details": {"type": "object"}},
}
ERROR_STATUSES = {"400": "bad request", "401": "not logged in", "403": "role not admitted",
                  "404": "not found", "409": "conflict with the current state",
                  "413": "body too large", "415": "not JSON", "422": "unprocessable",
                  "503": "a part of the service is unavailable"}


STRING: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer"}
NUMBER: dict[str, Any] = {"type": "number"}
BOOLEAN: dict[str, Any] = {"type": "boolean"}
TIME: dict[str, Any] = {"type": "string", "format": "date-time"}  # cti.clock.wire_time


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def obj(**properties: dict[str, Any]) -> dict[str, Any]:
    """A response object with exactly these properties, every one always present."""
    return {"type": "object", "required": list(properties), "properties": properties}


def documented(*, query: dict[str, dict[str, Any]] | None = None,
               body: dict[str, Any] | None = None, response: dict[str, Any] | None = None,
               content_type: str | tuple[str, ...] = "application/json",
               status: int = 200) -> Callable[[H], H]:
    """Declare a handler's query parameters, JSON body and success response (``status``)."""
    def mark(handler: H) -> H:
        setattr(handler, _DOC_ATTR, {"query": query or {}, "body": body, "response": response,
                                     "content_type": content_type, "status": status})
        return handler

    return mark


def _path_parameters(resource: Any) -> list[dict[str, Any]]:
    info = resource.get_info()
    pattern = info.get("pattern")
    if pattern is None:
        return []
    out = []
    for name, regex in re.findall(r"\(\?P<(\w+)>([^)]*)\)", pattern.pattern):
        schema: dict[str, Any] = ({"type": "integer", "minimum": 0} if regex == r"\d+"
                                  else {"type": "string", "maxLength": 255})
        out.append({"name": name, "in": "path", "required": True, "schema": schema})
    return out


def _operation(method: str, resource: Any, handler: Any) -> dict[str, Any]:
    roles = declared_roles(handler)
    doc = inspect.getdoc(handler) or handler.__name__.replace("_", " ")
    meta = getattr(handler, _DOC_ATTR, {"query": {}, "body": None, "response": None,
                                        "content_type": "application/json"})
    op: dict[str, Any] = {
        "operationId": f"{handler.__module__.rsplit('.', 1)[-1]}_{handler.__name__}_{method.lower()}",
        "summary": doc.splitlines()[0], "description": doc,
        "x-roles": "public" if roles is None else sorted(r.value for r in roles),
        "security": [] if roles is None else [{"session": []}, {"bearer": []}],
        "parameters": _path_parameters(resource) + [
            {"name": name, "in": "query", "required": False, "schema": schema}
            for name, schema in meta["query"].items()],
    }
    if method in ("POST", "PUT", "PATCH"):
        op["requestBody"] = {"required": meta["body"] is not None or method != "POST",
                             "content": {"application/json": {"schema": meta["body"] or OBJECT}}}
    types = meta["content_type"]
    types = (types,) if isinstance(types, str) else types
    ok = str(meta.get("status", 200))
    responses: dict[str, Any] = {ok: {"description": "OK" if ok == "200" else "Created", "content": {
        kind: {"schema": (meta["response"] or OBJECT) if kind == "application/json" else {}}
        for kind in types}}}
    if resource.canonical == "/api/events":
        responses = {"101": {"description": "websocket of JSON events"}}
    for status, what in ERROR_STATUSES.items():
        responses[status] = {"description": what, "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    op["responses"] = responses
    return op


def document(app: web.Application) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        resource = route.resource
        if resource is None or not resource.canonical.startswith("/api/") or route.method == "HEAD":
            continue
        paths.setdefault(resource.canonical, {})[route.method.lower()] = _operation(
            route.method, resource, route.handler)
    return {
        "openapi": "3.1.0",
        "info": {"title": "cti — 庁内ITヘルプデスク CTI API", "version": "1",
                 "description": "Every /api/ route with the roles it admits (x-roles). Errors are "
                                "JSON objects with error_id, message, fault and details."},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {"Error": ERROR},
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "cti_session"},
                "bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@routes.get("/api/openapi.json")
@public
@documented(response=obj(openapi={"const": "3.1.0"}, info=OBJECT, paths=OBJECT,
                         components=OBJECT))
async def openapi(request: web.Request) -> web.Response:
    """This document: every /api/ route, its roles, parameters and schemas (OpenAPI 3.1)."""
    return web.json_response(document(request.app))


@routes.get("/api/docs")
@public
@documented(content_type="text/html")
async def docs(request: web.Request) -> web.Response:
    """The API documentation for people (renders /api/openapi.json)."""
    raise web.HTTPFound("/console/docs.html")
