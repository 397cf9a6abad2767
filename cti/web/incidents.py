"""``GET/PUT/DELETE /api/incident``: the supervisor's incident notice."""

from __future__ import annotations

from aiohttp import web

from cti.auth import ANY_ROLE, SUPERVISORS
from cti.errors import InvalidRequest
from cti.floor.incidents import IncidentNotice
from cti.keys import CALL_CENTER, CLOCK, FEED, INCIDENTS, REDACTOR, SESSIONS, SETTINGS
from cti.routing import IncidentPriority
from cti.storage import audit
from cti.web.body import helpdesk_zone, json_object, parse_instant, reply
from cti.web.openapi import INTEGER, STRING, TIME, documented, nullable, obj
from cti.web.security import allow_roles, principal

routes = web.RouteTableDef()
MAX_MESSAGE = 300
#: ``IncidentNotice.as_json``
INCIDENT = obj(service=nullable(STRING), message_ja=STRING, message_en=STRING,
               priority_delta=INTEGER, until=nullable(TIME), declared_by=STRING, declared_at=TIME)
CURRENT = obj(incident=nullable(INCIDENT))


@routes.get("/api/incident")
@allow_roles(ANY_ROLE)
@documented(response=CURRENT)
async def current(request: web.Request) -> web.Response:
    notice = request.app[INCIDENTS].current(request.app[CLOCK]())
    return reply({"incident": notice.as_json(helpdesk_zone(request)) if notice else None})


@routes.put("/api/incident")
@allow_roles(SUPERVISORS)
@documented(body={"type": "object", "required": ["message_ja"], "properties": {
    "service": {"type": ["string", "null"]},
    "message_ja": {"type": "string", "minLength": 1, "maxLength": MAX_MESSAGE},
    "message_en": {"type": "string", "maxLength": MAX_MESSAGE},
    "priority_delta": {"type": "integer", "minimum": -5, "maximum": 5},
    "until": {"type": ["string", "null"], "format": "date-time"}}}, response=CURRENT)
async def declare(request: web.Request) -> web.Response:
    body = await json_object(request)
    now = request.app[CLOCK]()
    service = body.get("service")
    if service is not None and (not isinstance(service, str) or service not in {
            s.id for s in request.app[SETTINGS].services}):
        raise InvalidRequest("service must be a configured service id or null", field="service")
    message_ja, message_en = body.get("message_ja"), body.get("message_en", "")
    if not isinstance(message_ja, str) or not message_ja.strip() or len(message_ja) > MAX_MESSAGE:
        raise InvalidRequest(f"message_ja must be 1-{MAX_MESSAGE} characters", field="message_ja")
    if not isinstance(message_en, str) or len(message_en) > MAX_MESSAGE:
        raise InvalidRequest(f"message_en must be at most {MAX_MESSAGE} characters",
                             field="message_en")
    delta = body.get("priority_delta", 0)
    if not isinstance(delta, int) or isinstance(delta, bool) or not -5 <= delta <= 5:
        raise InvalidRequest("priority_delta must be an integer from -5 to 5", field="priority_delta")
    if delta and service is None:
        raise InvalidRequest("a priority change needs a service", field="service")
    until = parse_instant(body["until"], "until") if body.get("until") else None
    if until is not None and until <= now:
        raise InvalidRequest("until must be in the future", field="until")
    who = principal(request)
    redact = request.app[REDACTOR].redact  # callers hear it and it is audited: no personal data
    notice = IncidentNotice(service, redact(message_ja.strip()).text, redact(message_en.strip()).text,
                            delta, until, who.name, now)
    previous = request.app[INCIDENTS].declare(notice)
    await _set_priority(request, previous, notice)
    body = notice.as_json(helpdesk_zone(request))
    await audit.record(request.app[SESSIONS], audit.AuditEntry(
        now, who.name, who.role.value, "incident.declare", service or "all", body))
    request.app[FEED].to_everyone({"type": "incident", "incident": body})
    return reply({"incident": body})


@routes.delete("/api/incident")
@allow_roles(SUPERVISORS)
@documented(response=CURRENT)
async def clear(request: web.Request) -> web.Response:
    previous = request.app[INCIDENTS].clear()
    await _set_priority(request, previous, None)
    who = principal(request)
    await audit.record(request.app[SESSIONS], audit.AuditEntry(
        request.app[CLOCK](), who.name, who.role.value, "incident.clear",
        (previous.service or "all") if previous else "none", {}))
    request.app[FEED].to_everyone({"type": "incident", "incident": None})
    return reply({"incident": None})


async def _set_priority(request: web.Request, old: IncidentNotice | None,
                        new: IncidentNotice | None) -> None:
    center = request.app[CALL_CENTER]
    changes: dict[str, int] = {}
    if old is not None and old.service and old.priority_delta:
        changes[old.service] = 0
    if new is not None and new.service and new.priority_delta:
        changes[new.service] = new.priority_delta
    for service, delta in changes.items():
        event = IncidentPriority(service, delta)

        async def apply(event: IncidentPriority = event) -> None:
            await center.route_decisions(center.router.handle(event, center.now()))

        await center.submit(apply)
