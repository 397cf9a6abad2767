"""Admin: console users and the operator each works as (``GET /api/users``,
``PUT /api/users/{name}/operator``), with the binding problems the start-up check reports."""

from __future__ import annotations

from aiohttp import web

from cti.auth import Role
from cti.errors import Conflict, InvalidRequest, NotFound
from cti.floor.bindings import binding_problems
from cti.keys import CLOCK, SESSIONS, SETTINGS
from cti.storage import audit
from cti.storage import users as store
from cti.web.body import json_object, reply
from cti.web.openapi import documented
from cti.web.security import allow, principal

routes = web.RouteTableDef()
USERS = {"type": "object", "required": ["users", "operators", "problems"], "properties": {
    "users": {"type": "array", "items": {"type": "object", "required": [
        "username", "role", "operator_id", "disabled"]}},
    "operators": {"type": "array"}, "problems": {"type": "array"}}}


@routes.get("/api/users")
@allow(Role.ADMIN)
@documented(response=USERS)
async def users(request: web.Request) -> web.Response:
    """Console users with their operator, the configured operators, and binding problems."""
    found = await store.list_users(request.app[SESSIONS])
    operators = request.app[SETTINGS].operators
    return reply({
        "users": [{"username": u.username, "role": u.role, "operator_id": u.operator_id,
                   "disabled": u.disabled} for u in found],
        "operators": [{"id": o.id, "name": o.name, "skills": dict(o.skills)} for o in operators],
        "problems": [{"kind": p.kind, "subject": p.subject, "message": p.message}
                     for p in binding_problems(found, [o.id for o in operators])],
    })


@routes.put("/api/users/{name}/operator")
@allow(Role.ADMIN)
@documented(body={"type": "object", "required": ["operator_id"], "properties": {
    "operator_id": {"type": ["string", "null"], "maxLength": 32}}})
async def bind(request: web.Request) -> web.Response:
    """``{"operator_id": "op01"}`` binds the user to that operator; ``null`` unbinds (audited)."""
    body = await json_object(request)
    operator_id = body.get("operator_id")
    if operator_id is not None and (not isinstance(operator_id, str) or operator_id not in {
            o.id for o in request.app[SETTINGS].operators}):
        raise InvalidRequest("operator_id must be a configured operator or null", field="operator_id")
    name = request.match_info["name"][:64]
    try:
        user = await store.bind_operator(request.app[SESSIONS], name, operator_id)
    except store.OperatorTaken as exc:
        raise Conflict(str(exc)) from None
    except LookupError:
        raise NotFound(f"no user {name!r}") from None
    who = principal(request)
    await audit.record(request.app[SESSIONS], audit.AuditEntry(
        request.app[CLOCK](), who.name, who.role.value, "user.bind_operator", name,
        {"operator_id": operator_id}))
    return reply({"username": user.username, "role": user.role, "operator_id": user.operator_id,
                  "disabled": user.disabled})
