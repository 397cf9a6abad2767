"""Tickets over HTTP: list, read with the call timeline, complete; and the redaction preview.

Operators see and edit their own tickets; supervisors, managers and admins read all of them, and
each of their reads is written to the audit log. Free text is redacted before it is stored.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from aiohttp import web

from cti.auth import ANY_ROLE, READERS, Principal, Role
from cti.clock import wire_time
from cti.errors import Forbidden, IllegalTransition, InvalidRequest, NotFound, StaleWrite
from cti.keys import CALL_CENTER, CLOCK, REDACTOR, SESSIONS, SETTINGS
from cti.privacy import keep as keeping
from cti.privacy.redaction import PLACEHOLDERS
from cti.storage import audit
from cti.storage import tickets as store
from cti.tickets.rules import OUTCOMES
from cti.tickets.status import STATUSES, IllegalTicketTransition, check_transition
from cti.web.body import helpdesk_zone, json_object, parse_instant, reply
from cti.web.openapi import (
    BOOLEAN,
    INTEGER,
    NUMBER,
    OBJECT,
    STRING,
    TIME,
    array,
    documented,
    nullable,
    obj,
)
from cti.web.security import allow, allow_any_user, allow_roles, operator_of, principal

routes = web.RouteTableDef()
MAX_TEXT = 4000
EDITORS = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN})
#: ``ticket_json``
TICKET = obj(
    id=INTEGER, reference=STRING, call_id=nullable(STRING), service=nullable(STRING),
    status={"enum": list(STATUSES)}, outcome=nullable(STRING), category=nullable(STRING),
    summary=STRING, answer=STRING, received_at=TIME, wait_seconds=nullable(NUMBER),
    talk_seconds=nullable(NUMBER), operator=nullable(STRING), linked_ticket_id=nullable(INTEGER),
    version=INTEGER, updated_at=TIME)
TICKETS = obj(tickets=array(TICKET))
TICKET_WITH_TIMELINE = {**TICKET, "required": [*TICKET["required"], "timeline"], "properties": {
    **TICKET["properties"],
    "timeline": array(obj(seq=INTEGER, at=TIME, kind=STRING, data=OBJECT))}}
KEEP = {"type": "array", "maxItems": keeping.MAX_WORDS, "items": {
    "type": "string", "minLength": 1, "maxLength": keeping.MAX_WORD_CHARS}}


def ticket_json(view: store.TicketView, zone: tzinfo) -> dict[str, Any]:
    return {
        "id": view.id,
        "reference": view.reference,
        "call_id": view.call_id,
        "service": view.service,
        "status": view.status,
        "outcome": view.outcome,
        "category": view.category,
        "summary": view.summary,
        "answer": view.answer,
        "received_at": wire_time(view.received_at, zone),
        "wait_seconds": view.wait_seconds,
        "talk_seconds": view.talk_seconds,
        "operator": view.operator_id,
        "linked_ticket_id": view.linked_ticket_id,
        "version": view.version,
        "updated_at": wire_time(view.updated_at, zone),
    }


async def _audit_read(
    request: web.Request, who: Principal, action: str, target: str, detail: dict[str, Any]
) -> None:
    if who.role in READERS:
        await audit.record(
            request.app[SESSIONS],
            audit.AuditEntry(request.app[CLOCK](), who.name, who.role.value, action, target, detail),
        )


def _choice(request: web.Request, name: str, options: tuple[str, ...] | frozenset[str]) -> str | None:
    value = request.query.get(name)
    if value is not None and value not in options:
        raise InvalidRequest(f"{name} must be one of {', '.join(sorted(options))}", field=name, got=value)
    return value


@routes.get("/api/tickets")
@allow_any_user
@documented(query={"since": {"type": "string", "format": "date-time"},
                   "until": {"type": "string", "format": "date-time"},
                   "service": STRING, "status": {"enum": list(STATUSES)},
                   "outcome": {"enum": list(OUTCOMES)}, "operator": STRING,
                   "limit": {"type": "integer", "minimum": 1, "maximum": 1000}},
            response=TICKETS)
async def list_tickets(request: web.Request) -> web.Response:
    who = principal(request)
    settings = request.app[SETTINGS]
    q = request.query
    try:
        limit = int(q.get("limit", "200"))
    except ValueError:
        raise InvalidRequest("limit must be a whole number", field="limit") from None
    if not 1 <= limit <= 1000:
        raise InvalidRequest("limit must be between 1 and 1000", field="limit", got=limit)
    filters = store.TicketFilter(
        since=parse_instant(q["since"], "since") if "since" in q else None,
        until=parse_instant(q["until"], "until") if "until" in q else None,
        service=_choice(request, "service", frozenset(s.id for s in settings.services)),
        status=_choice(request, "status", STATUSES),
        outcome=_choice(request, "outcome", OUTCOMES),
        operator_id=operator_of(who) if who.role == Role.OPERATOR else q.get("operator"),
        limit=limit,
    )
    found = await store.list_tickets(request.app[SESSIONS], filters)
    await _audit_read(request, who, "tickets.list", "tickets", {"query": dict(q), "count": len(found)})
    return reply({"tickets": [ticket_json(t, helpdesk_zone(request)) for t in found]})


async def _load_for(request: web.Request, who: Principal) -> tuple[store.TicketView, list[Any]]:
    try:
        ticket_id = int(request.match_info["id"])
        view, timeline = await store.get_ticket(request.app[SESSIONS], ticket_id)
    except (ValueError, store.TicketNotFound):
        raise NotFound(f"no ticket {request.match_info['id']}") from None
    if who.role == Role.OPERATOR and view.operator_id != operator_of(who):
        raise Forbidden("operators see their own tickets only")
    return view, timeline


@routes.get("/api/tickets/{id}")
@allow_roles(ANY_ROLE)
@documented(response=TICKET_WITH_TIMELINE)
async def get_ticket(request: web.Request) -> web.Response:
    who = principal(request)
    view, timeline = await _load_for(request, who)
    await _audit_read(request, who, "ticket.read", view.reference, {"ticket_id": view.id})
    zone = helpdesk_zone(request)
    body = ticket_json(view, zone)
    body["timeline"] = [
        {"seq": e.seq, "at": wire_time(e.at, zone), "kind": e.kind, "data": dict(e.data)}
        for e in timeline
    ]
    return reply(body)


def _current_call(request: web.Request, operator_id: str) -> str | None:
    """The call offered to or connected with this operator right now, if any."""
    for view in request.app[CALL_CENTER].router.operators():
        if view.operator_id == operator_id:
            return view.call_id
    return None


def _may_read(who: Principal, ticket: store.TicketView, current_call: str | None) -> bool:
    """Readers read every ticket; an operator their own and the one of the call at their desk."""
    if who.role in READERS:
        return True
    return ticket.operator_id == who.operator_id or (
        current_call is not None and ticket.call_id == current_call)


@routes.get("/api/tickets/{id}/related")
@allow_roles(ANY_ROLE)
@documented(response=TICKETS)
async def related(request: web.Request) -> web.Response:
    """The same caller's other tickets (the screen pop's history), newest first; an operator gets
    only the tickets they may read."""
    who = principal(request)
    try:
        view, _ = await store.get_ticket(request.app[SESSIONS], int(request.match_info["id"]))
    except (ValueError, store.TicketNotFound):
        raise NotFound(f"no ticket {request.match_info['id']}") from None
    current = _current_call(request, operator_of(who)) if who.role == Role.OPERATOR else None
    if not _may_read(who, view, current):
        raise Forbidden("operators see their own tickets only")
    if view.caller_hash is None:
        return reply({"tickets": []})
    own_only = operator_of(who) if who.role == Role.OPERATOR else None
    found = await store.list_tickets(request.app[SESSIONS], store.TicketFilter(
        caller_hash=view.caller_hash, operator_id=own_only, limit=11))
    others = [t for t in found if t.id != view.id and _may_read(who, t, current)][:10]
    await _audit_read(request, who, "ticket.related", view.reference, {"count": len(others)})
    return reply({"tickets": [ticket_json(t, helpdesk_zone(request)) for t in others]})


@routes.patch("/api/tickets/{id}")
@allow_roles(EDITORS)
@documented(body={"type": "object", "properties": {
    "category": STRING, "summary": {"type": "string", "maxLength": MAX_TEXT},
    "answer": {"type": "string", "maxLength": MAX_TEXT}, "status": {"enum": list(STATUSES)},
    "linked_ticket_id": {"type": ["integer", "null"]}, "version": INTEGER, "keep": KEEP}},
    response=TICKET)
async def update_ticket(request: web.Request) -> web.Response:
    who = principal(request)
    view, _ = await _load_for(request, who)
    body = await json_object(request)
    redactor = request.app[REDACTOR]
    changes: dict[str, Any] = {}
    unknown = set(body) - {"category", "summary", "answer", "status", "linked_ticket_id", "version", "keep"}
    if unknown:
        raise InvalidRequest(f"unknown fields: {', '.join(sorted(unknown))}", fields=sorted(unknown))
    texts: dict[str, str] = {}
    for name in ("summary", "answer"):
        if name in body:
            value = body[name]
            if not isinstance(value, str) or len(value) > MAX_TEXT:
                raise InvalidRequest(f"{name} must be text of at most {MAX_TEXT} characters", field=name)
            texts[name] = value
    kept = _checked_keep(request, body.get("keep"), texts.values())
    for name, value in texts.items():
        changes[name] = redactor.redact(value, keep=[k.word for k in kept]).text
    if "category" in body:
        categories = request.app[SETTINGS].service(view.service).categories if view.service else ()
        if body["category"] not in categories:
            raise InvalidRequest(
                "category must be one of the service's categories", field="category", allowed=list(categories)
            )
        changes["category"] = body["category"]
    if "status" in body:
        if body["status"] not in STATUSES:
            raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}", field="status")
        changes["status"] = body["status"]
    if "linked_ticket_id" in body:
        changes["linked_ticket_id"] = await _checked_link(request, view, body["linked_ticket_id"])
    expected = body.get("version")
    if expected is not None and (not isinstance(expected, int) or isinstance(expected, bool)):
        raise InvalidRequest("version must be the ticket's version number", field="version")
    try:
        updated = await store.update_ticket(
            request.app[SESSIONS],
            view.id,
            changes,
            request.app[CLOCK](),
            check_status=check_transition,
            expected_version=expected,
        )
    except IllegalTicketTransition as exc:
        raise IllegalTransition(str(exc), current=exc.current, wanted=exc.wanted) from None
    except store.StaleTicket as exc:
        raise StaleWrite(str(exc)) from None
    await audit.record(
        request.app[SESSIONS],
        audit.AuditEntry(
            request.app[CLOCK](),
            who.name,
            who.role.value,
            "ticket.update",
            updated.reference,
            {"fields": sorted(changes)},
        ),
    )
    if kept:
        await audit.record(request.app[SESSIONS], audit.AuditEntry(
            request.app[CLOCK](), who.name, who.role.value, keeping.AUDIT_ACTION, updated.reference,
            keeping.audit_detail(kept, sorted(texts))))
    return reply(ticket_json(updated, helpdesk_zone(request)))


def _checked_keep(request: web.Request, value: object, texts: Any) -> tuple[keeping.KeptWord, ...]:
    """The operator's kept words, refused (400) for phone, mail, My Number and card."""
    try:
        return keeping.check_keep(request.app[REDACTOR], keeping.parse_keep(value), texts)
    except keeping.KeepRefused as exc:
        raise InvalidRequest(str(exc), field="keep", kinds=list(exc.kinds)) from None


async def _checked_link(request: web.Request, view: store.TicketView, value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value == view.id:
        raise InvalidRequest("linked_ticket_id must be the id of another ticket", field="linked_ticket_id")
    try:
        other, _ = await store.get_ticket(request.app[SESSIONS], value)
    except store.TicketNotFound:
        raise InvalidRequest(f"no ticket {value} to link to", field="linked_ticket_id") from None
    if other.caller_hash is None or other.caller_hash != view.caller_hash:
        raise InvalidRequest(
            "a ticket can only be linked to an earlier ticket of the same caller", field="linked_ticket_id"
        )
    if other.received_at > view.received_at:
        raise InvalidRequest("link to an earlier ticket", field="linked_ticket_id")
    return value


@routes.post("/api/redact")
@allow(*ANY_ROLE)
@documented(body={"type": "object", "required": ["text"], "properties": {
    "text": {"type": "string", "maxLength": 20000}, "keep": KEEP}},
    response=obj(text=STRING, found=array(obj(
        kind=STRING, start=INTEGER, end=INTEGER, keepable=BOOLEAN, mask=STRING, word=STRING))))
async def redact(request: web.Request) -> web.Response:
    """The live masked preview: ``text`` as it would be stored, and each finding with its mask
    and the original word (an operator may keep a falsely masked one, ``keep``)."""
    body = await json_object(request)
    text = body.get("text")
    if not isinstance(text, str):
        raise InvalidRequest("text must be a string", field="text")
    if len(text) > 20000:
        raise InvalidRequest("text longer than 20000 characters", field="text")
    kept = _checked_keep(request, body.get("keep"), [text])
    result = request.app[REDACTOR].redact(text, keep=[k.word for k in kept])
    return reply(
        {
            "text": result.text,
            "found": [
                {"kind": f.kind, "start": f.start, "end": f.end, "keepable": f.keepable,
                 "mask": PLACEHOLDERS[f.kind], "word": text[f.start:f.end]} for f in result.found
            ],
        }
    )
