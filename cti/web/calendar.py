"""``GET /api/calendar`` and the supervisor's ``PUT /api/calendar/override``."""

from __future__ import annotations

from aiohttp import web

from cti.auth import SUPERVISORS
from cti.clock import wire_time_or_none
from cti.errors import InvalidRequest
from cti.keys import CLOCK, FEED, HOURS, SESSIONS
from cti.storage import audit
from cti.web.body import helpdesk_zone, json_object, parse_instant, reply
from cti.web.openapi import BOOLEAN, STRING, TIME, documented, nullable, obj
from cti.web.security import allow_any_user, allow_roles, principal

routes = web.RouteTableDef()
#: ``CalendarStatus.as_json``: open now, why not (Japanese first), when it opens and closes next
HOURS_STATUS = obj(open=BOOLEAN, reason_code=nullable(STRING), reason=nullable(STRING),
            next_open=nullable(TIME), closes_at=nullable(TIME))


@routes.get("/api/calendar")
@allow_any_user
@documented(query={"at": {"type": "string", "format": "date-time"}}, response=HOURS_STATUS)
async def calendar_status(request: web.Request) -> web.Response:
    at_text = request.query.get("at")
    at = parse_instant(at_text, "at") if at_text else request.app[CLOCK]()
    return reply(request.app[HOURS].status(at).as_json())


@routes.put("/api/calendar/override")
@allow_roles(SUPERVISORS)
@documented(body={"type": "object", "required": ["mode"], "properties": {
    "mode": {"enum": ["auto", "open", "closed"]},
    "until": {"type": ["string", "null"], "format": "date-time"}}}, response=HOURS_STATUS)
async def set_override(request: web.Request) -> web.Response:
    body = await json_object(request)
    mode = body.get("mode")
    if mode not in ("auto", "open", "closed"):
        raise InvalidRequest('mode must be "auto", "open" or "closed"', field="mode", got=mode)
    until_text = body.get("until")
    if until_text is not None and not isinstance(until_text, str):
        raise InvalidRequest("until must be an ISO 8601 date-time or null", field="until")
    now = request.app[CLOCK]()
    until = parse_instant(until_text, "until") if until_text else None
    if until is not None and until <= now:
        raise InvalidRequest("until must be in the future", field="until", got=until_text)
    hours = request.app[HOURS]
    who = principal(request)
    await hours.set_override(mode, until, who.name, now)
    await audit.record(request.app[SESSIONS], audit.AuditEntry(
        now, who.name, who.role.value, "hours.override", "calendar",
        {"mode": mode, "until": wire_time_or_none(until, helpdesk_zone(request))}))
    request.app[FEED].to_everyone({"type": "hours", **hours.status(now).as_json()})
    return reply(hours.status(now).as_json())
