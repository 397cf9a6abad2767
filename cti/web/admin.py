"""Admin: console users and the operator each works as (``GET /api/users``,
``PUT /api/users/{name}/operator``), with the binding problems the start-up check reports; and
the operators themselves, added, re-skilled, renamed and deactivated while the service runs
(``POST /api/operators``, ``PATCH /api/operators/{id}``; see ``cti.floor.roster``)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from aiohttp import web

from cti.auth import Role
from cti.errors import Conflict, InvalidRequest, NotFound
from cti.floor.bindings import binding_problems
from cti.floor.roster import Actor
from cti.keys import CALL_CENTER, CLOCK, ROSTER, SESSIONS, SETTINGS
from cti.routing.rules import MAX_PROFICIENCY, MIN_PROFICIENCY
from cti.storage import audit
from cti.storage import users as store
from cti.storage.operators import OperatorRecord
from cti.web.body import json_object, reply
from cti.web.openapi import documented
from cti.web.security import allow, principal

routes = web.RouteTableDef()
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
URI_PATTERN = (r"^sips?:[A-Za-z0-9._~+-]{1,64}@"
               r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])"
               r"(?::[0-9]{1,5})?$")
MAX_NAME = 64
OPERATOR = {"type": "object", "required": ["id", "name", "uri", "skills", "active", "source"],
            "properties": {
                "id": {"type": "string"}, "name": {"type": "string"}, "uri": {"type": "string"},
                "skills": {"type": "object", "additionalProperties": {"type": "integer"}},
                "active": {"type": "boolean"}, "source": {"enum": ["config", "admin"]}}}
_SKILLS = {"type": "object", "minProperties": 1, "maxProperties": 64, "additionalProperties": {
    "type": "integer", "minimum": MIN_PROFICIENCY, "maximum": MAX_PROFICIENCY}}
_NAME = {"type": "string", "minLength": 1, "maxLength": MAX_NAME}
_URI = {"type": "string", "maxLength": 255, "pattern": URI_PATTERN}
NEW_OPERATOR = {"type": "object", "required": ["id", "name", "uri", "skills"], "properties": {
    "id": {"type": "string", "pattern": ID_PATTERN}, "name": _NAME, "uri": _URI,
    "skills": _SKILLS}}
OPERATOR_CHANGE = {"type": "object", "minProperties": 1, "properties": {
    "name": _NAME, "uri": _URI, "skills": _SKILLS, "active": {"type": "boolean"}}}
USER = {"type": "object", "required": ["username", "role", "operator_id", "disabled"],
        "properties": {"username": {"type": "string"}, "role": {"enum": [r.value for r in Role]},
                       "operator_id": {"type": ["string", "null"]},
                       "disabled": {"type": "boolean"}}}
USERS = {"type": "object", "required": ["users", "operators", "problems"], "properties": {
    "users": {"type": "array", "items": USER},
    "operators": {"type": "array", "items": OPERATOR},
    "problems": {"type": "array", "items": {"type": "object", "required": [
        "kind", "subject", "message"], "properties": {
        "kind": {"type": "string"}, "subject": {"type": "string"},
        "message": {"type": "string"}}}}}}


def operator_json(o: OperatorRecord) -> dict[str, Any]:
    return {"id": o.id, "name": o.name, "uri": o.uri, "skills": dict(o.skills),
            "active": o.active, "source": o.source}


@routes.get("/api/users")
@allow(Role.ADMIN)
@documented(response=USERS)
async def users(request: web.Request) -> web.Response:
    """Console users with their operator, every operator (active or not), and binding problems."""
    found = await store.list_users(request.app[SESSIONS])
    roster = request.app[ROSTER]
    return reply({
        "users": [{"username": u.username, "role": u.role, "operator_id": u.operator_id,
                   "disabled": u.disabled} for u in found],
        "operators": [operator_json(o) for o in roster.all()],
        "problems": [{"kind": p.kind, "subject": p.subject, "message": p.message}
                     for p in binding_problems(found, sorted(roster.active_ids()))],
    })


@routes.put("/api/users/{name}/operator")
@allow(Role.ADMIN)
@documented(body={"type": "object", "required": ["operator_id"], "properties": {
    "operator_id": {"type": ["string", "null"], "maxLength": 32}}}, response=USER)
async def bind(request: web.Request) -> web.Response:
    """``{"operator_id": "op01"}`` binds the user to that operator; ``null`` unbinds (audited)."""
    body = await json_object(request)
    operator_id = body.get("operator_id")
    if operator_id is not None and (not isinstance(operator_id, str)
                                    or operator_id not in request.app[ROSTER].active_ids()):
        raise InvalidRequest("operator_id は有効なオペレーターIDか null / operator_id must be an "
                             "active operator or null", field="operator_id")
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


@routes.post("/api/operators")
@allow(Role.ADMIN)
@documented(body=NEW_OPERATOR, response=OPERATOR)
async def add_operator(request: web.Request) -> web.Response:
    """Add an operator (phone, display name, skills 1..5 per service); routing takes calls for
    them at once, no restart (audited)."""
    body = await json_object(request)
    operator_id = body.get("id")
    if not isinstance(operator_id, str) or not re.fullmatch(ID_PATTERN, operator_id):
        raise InvalidRequest("オペレーターIDは英小文字・数字・-・_ で32文字まで（例: op06） / id: "
                             "lowercase letters, digits, - and _, at most 32 (e.g. op06)",
                             field="id")
    fields = _fields(request, body, ("name", "uri", "skills"), required=True)
    record = OperatorRecord(operator_id, fields["name"], fields["uri"], fields["skills"])
    added = await request.app[ROSTER].add(request.app[SESSIONS], request.app[CALL_CENTER],
                                          record, _actor(request), request.app[CLOCK]())
    return reply(operator_json(added))


@routes.patch("/api/operators/{id}")
@allow(Role.ADMIN)
@documented(body=OPERATOR_CHANGE, response=OPERATOR)
async def change_operator(request: web.Request) -> web.Response:
    """Change an operator's display name, phone or skills, or deactivate (``active: false``,
    refused while they ring, talk or wrap up) or reactivate them; at once, audited."""
    body = await json_object(request)
    fields = _fields(request, body, ("name", "uri", "skills", "active"), required=False)
    if not fields:
        raise InvalidRequest("変更する項目がありません（name, uri, skills, active） / nothing to "
                             "change: give name, uri, skills or active", field="body")
    changed = await request.app[ROSTER].change(
        request.app[SESSIONS], request.app[CALL_CENTER], request.match_info["id"][:32], fields,
        _actor(request), request.app[CLOCK]())
    return reply(operator_json(changed))


def _actor(request: web.Request) -> Actor:
    who = principal(request)
    return Actor(who.name, who.role.value)


def _fields(request: web.Request, body: dict[str, Any], names: tuple[str, ...], *,
            required: bool) -> dict[str, Any]:
    """The named fields of ``body``, validated and bounded; every message Japanese first."""
    unknown = sorted(set(body) - set(names) - {"id"})
    if unknown:
        raise InvalidRequest(f"不明な項目: {', '.join(unknown)[:100]} / unknown fields",
                             field=unknown[0][:100])
    out: dict[str, Any] = {}
    for name in names:
        if name not in body:
            if required:
                raise InvalidRequest(f"{name} が必要です / {name} is required", field=name)
            continue
        out[name] = _FIELD_CHECKS[name](request, body[name])
    return out


def _name(request: web.Request, value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > MAX_NAME or any(
            unicodedata.category(c).startswith("C") for c in text):
        raise InvalidRequest(f"表示名は1〜{MAX_NAME}文字（制御文字なし） / name: 1 to {MAX_NAME} "
                             "characters, no control characters", field="name")
    return text


def _uri(request: web.Request, value: object) -> str:
    if not isinstance(value, str) or len(value) > 255 or not re.fullmatch(URI_PATTERN, value):
        raise InvalidRequest("電話は SIP URI で指定してください（例: sip:2206@192.0.2.10:5070） / "
                             "uri: a SIP URI such as sip:2206@192.0.2.10:5070", field="uri")
    return value


def _skills(request: web.Request, value: object) -> dict[str, int]:
    services = [s.id for s in request.app[SETTINGS].services]
    if not isinstance(value, dict) or not value:
        raise InvalidRequest("スキルを1つ以上指定してください（サービスID: 1〜5） / skills: at least "
                             "one, service id to proficiency 1..5", field="skills")
    skills: dict[str, int] = {}
    for service, level in value.items():
        if service not in services:
            raise InvalidRequest(f"不明なサービス {service[:40]} （{', '.join(services)}） / "
                                 "unknown service", field="skills")
        if isinstance(level, bool) or not isinstance(level, int) or not (
                MIN_PROFICIENCY <= level <= MAX_PROFICIENCY):
            raise InvalidRequest(f"{service} の習熟度は1〜5の整数 / proficiency for {service} must "
                                 "be an integer 1..5", field="skills")
        skills[service] = level
    return skills


def _active(request: web.Request, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequest("active は true か false / active must be true or false",
                             field="active")
    return value


_FIELD_CHECKS = {"name": _name, "uri": _uri, "skills": _skills, "active": _active}
