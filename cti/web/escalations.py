"""Escalations over HTTP: open one for a ticket, take the answer back, list them with overdue flags.

``POST /api/escalations/{ref}/reply`` is public: the vendor has no account, and the per-escalation
token from the mail is the credential (a wrong token is a 403 ``wrong_reply_token`` and a log
line). Every other route declares its roles; operators act on their own tickets only.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

from aiohttp import web

from cti.auth import READERS, Principal, Role
from cti.clock import wire_time, wire_time_or_none
from cti.errors import Forbidden, InvalidRequest, NotFound
from cti.escalation.service import Answered
from cti.escalation.status import STATUSES
from cti.keys import CLOCK, ESCALATIONS, SESSIONS
from cti.storage import audit
from cti.storage import tickets as ticket_store
from cti.storage.escalations import EscalationView
from cti.web.body import helpdesk_zone, json_object, reply
from cti.web.openapi import (
    BOOLEAN,
    INTEGER,
    STRING,
    TIME,
    array,
    documented,
    nullable,
    obj,
)
from cti.web.security import allow_roles, operator_of, principal, public

routes = web.RouteTableDef()
EDITORS = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN})
LISTERS = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN})
#: ``escalation_json``
ESCALATION = obj(
    reference=STRING, ticket_id=INTEGER, ticket_reference=STRING, operator=nullable(STRING),
    target=STRING, contact_name=STRING, status={"enum": list(STATUSES)}, created_at=TIME,
    sent_at=nullable(TIME), due_at=nullable(TIME), overdue=BOOLEAN, attempts=INTEGER,
    next_attempt_at=nullable(TIME), last_error=nullable(STRING), answer=nullable(STRING),
    answered_at=nullable(TIME), answered_by=nullable(STRING))


def _with(**more: dict[str, Any]) -> dict[str, Any]:
    return {**ESCALATION, "required": [*ESCALATION["required"], *more],
            "properties": {**ESCALATION["properties"], **more}}


ANSWERED = _with(ticket_status=STRING)
MAX_REFERENCE = 32


def _seconds(span: timedelta | None) -> int | None:
    return None if span is None else round(span.total_seconds())


def escalation_json(view: EscalationView, overdue: bool, zone: tzinfo) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return wire_time_or_none(value, zone)

    return {
        "reference": view.reference,
        "ticket_id": view.ticket_id,
        "ticket_reference": view.ticket_reference,
        "operator": view.ticket_operator_id,
        "target": view.target,
        "contact_name": view.contact_name,
        "status": view.status,
        "created_at": iso(view.created_at),
        "sent_at": iso(view.sent_at),
        "due_at": iso(view.due_at),
        "overdue": overdue,
        "attempts": view.attempts,
        "next_attempt_at": iso(view.next_attempt_at),
        "last_error": view.last_error,
        "answer": view.answer,
        "answered_at": iso(view.answered_at),
        "answered_by": view.answered_by,
    }


async def _audit(request: web.Request, actor: str, role: str, action: str, target: str,
                 detail: dict[str, Any]) -> None:
    await audit.record(request.app[SESSIONS], audit.AuditEntry(
        request.app[CLOCK](), actor, role, action, target, detail))


def _reference(request: web.Request) -> str:
    reference = request.match_info["ref"]
    if len(reference) > MAX_REFERENCE:
        raise NotFound("no such escalation")
    return reference


def _own(who: Principal, operator_id: str | None) -> None:
    if who.role == Role.OPERATOR and operator_id != operator_of(who):
        raise Forbidden("operators escalate and answer their own tickets only")


@routes.post("/api/tickets/{id}/escalations")
@allow_roles(EDITORS)
@documented(body={"type": "object", "properties": {"target": STRING, "note": STRING}},
            response=ESCALATION, status=201)
async def open_escalation(request: web.Request) -> web.Response:
    who = principal(request)
    try:
        ticket, _ = await ticket_store.get_ticket(request.app[SESSIONS], int(request.match_info["id"]))
    except (ValueError, ticket_store.TicketNotFound):
        raise NotFound(f"no ticket {request.match_info['id']}") from None
    _own(who, ticket.operator_id)
    body = await json_object(request)
    unknown = set(body) - {"target", "note"}
    if unknown:
        raise InvalidRequest(f"unknown fields: {', '.join(sorted(unknown))}", fields=sorted(unknown))
    service = request.app[ESCALATIONS]
    view = await service.open(ticket, body.get("target"), body.get("note"), who.name)
    await _audit(request, who.name, who.role.value, "escalation.open", view.reference,
                 {"ticket_id": ticket.id, "target": view.target})
    overdue = service.overdue(view, request.app[CLOCK]())
    return reply(escalation_json(view, overdue, helpdesk_zone(request)), status=201)


@routes.post("/api/escalations/{ref}/reply")
@public
@documented(body={"type": "object", "properties": {"token": STRING, "answer": STRING,
                                                  "from": STRING}}, response=ANSWERED)
async def reply_to_escalation(request: web.Request) -> web.Response:
    reference = _reference(request)
    body = await json_object(request)
    service = request.app[ESCALATIONS]
    answered = await service.reply(reference, body.get("token"), body.get("answer"),
                                   body.get("from"))
    await _audit(request, answered.escalation.answered_by or "reply", "contact",
                 "escalation.reply", reference, {"ticket_id": answered.escalation.ticket_id})
    return reply(_answered_json(answered, helpdesk_zone(request)))


@routes.post("/api/escalations/{ref}/answer")
@allow_roles(EDITORS)
@documented(body={"type": "object", "properties": {"answer": STRING}}, response=ANSWERED)
async def answer_escalation(request: web.Request) -> web.Response:
    who = principal(request)
    service = request.app[ESCALATIONS]
    view = await service.get(_reference(request))
    _own(who, view.ticket_operator_id)
    body = await json_object(request)
    answered = await service.answer(view, body.get("answer"), who.name)
    await _audit(request, who.name, who.role.value, "escalation.answer", view.reference,
                 {"ticket_id": view.ticket_id})
    return reply(_answered_json(answered, helpdesk_zone(request)))


@routes.get("/api/escalations")
@allow_roles(LISTERS)
@documented(query={"status": {"enum": list(STATUSES)}, "overdue": {"enum": ["true", "false"]},
                   "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
                   "ticket": INTEGER, "operator": STRING},
            response=obj(now=TIME, escalations=array(_with(business_age_s=nullable(INTEGER)))))
async def list_escalations(request: web.Request) -> web.Response:
    who = principal(request)
    q = request.query
    status = q.get("status") or None
    if status is not None and status not in STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}", field="status",
                             got=status[:40])
    overdue = q.get("overdue", "false")
    if overdue not in ("true", "false"):
        raise InvalidRequest("overdue must be true or false", field="overdue", got=overdue[:40])
    try:
        limit = int(q.get("limit", "200"))
        ticket_id = int(q["ticket"]) if "ticket" in q else None
    except ValueError:
        raise InvalidRequest("limit and ticket must be whole numbers", field="limit/ticket") from None
    if not 1 <= limit <= 1000:
        raise InvalidRequest("limit must be between 1 and 1000", field="limit", got=limit)
    service = request.app[ESCALATIONS]
    now, found = await service.list(
        status=status, ticket_id=ticket_id,
        operator_id=operator_of(who) if who.role == Role.OPERATOR else q.get("operator"),
        overdue_only=overdue == "true", limit=limit)
    if who.role in READERS:
        await _audit(request, who.name, who.role.value, "escalations.list", "escalations",
                     {"query": dict(q), "count": len(found)})
    zone = helpdesk_zone(request)
    return reply({"now": wire_time(now, zone),
                  "escalations": [{**escalation_json(v, service.overdue(v, now), zone),
                                   "business_age_s": _seconds(service.business_age(v, now))}
                                  for v in found]})


def _answered_json(answered: Answered, zone: tzinfo) -> dict[str, Any]:
    view = answered.escalation
    return {**escalation_json(view, False, zone), "ticket_status": answered.ticket_status}
