"""``GET /api/me/desk``: everything the console needs to rebuild an operator's screen."""

from __future__ import annotations

from aiohttp import web

from cti.floor import desk
from cti.keys import CALL_CENTER, SESSIONS
from cti.web.body import helpdesk_zone, reply
from cti.web.openapi import documented
from cti.web.security import allow_any_user, principal
from cti.web.tickets import TICKET, ticket_json

routes = web.RouteTableDef()


DESK = {
    "type": "object", "required": ["user", "role", "operator_id", "operator", "call",
                                   "open_tickets", "ticket_id"],
    "properties": {
        "user": {"type": "string"}, "role": {"type": "string"},
        "operator_id": {"type": ["string", "null"]},
        "operator": {"type": ["object", "null"]}, "call": {"type": ["object", "null"]},
        "open_tickets": {"type": "array", "items": TICKET},
        "ticket_id": {"type": ["integer", "null"]},
    },
}


@routes.get("/api/me/desk")
@allow_any_user
@documented(response=DESK)
async def my_desk(request: web.Request) -> web.Response:
    """Who I am, which operator I work as, my state, the call offered to me or that I am
    talking, my open tickets and the one the ticket form should show."""
    who = principal(request)
    body: dict[str, object] = {"user": who.name, "role": who.role.value,
                               "operator_id": who.operator_id, "operator": None, "call": None,
                               "open_tickets": [], "ticket_id": None}
    if who.operator_id is None:
        return reply(body)
    center = request.app[CALL_CENTER]
    state = desk.operator_state(center, who.operator_id)
    pop = center.screen_pop_for(who.operator_id)
    open_ = await desk.open_tickets(request.app[SESSIONS], who.operator_id)
    zone = helpdesk_zone(request)
    body.update(operator=state, call=pop, open_tickets=[ticket_json(t, zone) for t in open_],
                ticket_id=desk.current_ticket_id(pop, open_))
    return reply(body)
