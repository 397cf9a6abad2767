"""The floor over HTTP: operators and their states, the queues, and the live event websocket."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from aiohttp import WSCloseCode, WSMsgType, web

from cti.auth import ANY_ROLE, READERS, SUPERVISORS, Role
from cti.errors import Conflict, Forbidden, InvalidRequest, NotFound
from cti.floor.wallboard import snapshot
from cti.ha import presence as ha_presence
from cti.keys import (
    CALL_CENTER,
    CLOCK,
    CONSOLE_SOCKETS,
    FEED,
    HOURS,
    INCIDENTS,
    METRICS,
    ROSTER,
    SESSIONS,
    SETTINGS,
)
from cti.routing import (
    CallMoved,
    CallState,
    CallTaken,
    OperatorState,
    OperatorStateRequested,
    Rejected,
    WrapUpExtended,
)
from cti.storage import audit
from cti.storage.presence import Presence
from cti.web.body import json_object, reply
from cti.web.calendar import HOURS_STATUS
from cti.web.incidents import INCIDENT
from cti.web.openapi import (
    INTEGER,
    NUMBER,
    STRING,
    array,
    documented,
    nullable,
    obj,
)
from cti.web.security import allow_any_user, allow_roles, principal

log = structlog.get_logger()
routes = web.RouteTableDef()
SETTABLE_STATES = ("available", "away", "offline")
OPERATOR_STATE = {"enum": [s.value for s in OperatorState]}
CALL_STATE = {"enum": [s.value for s in CallState]}
SKILLS = {"type": "object", "additionalProperties": INTEGER}
STATE = obj(id=STRING, state=OPERATOR_STATE, reason=STRING,
            pending_state=nullable(OPERATOR_STATE))
CALL = obj(call_id=STRING, service=nullable(STRING), state=nullable(CALL_STATE))


@routes.get("/api/operators")
@allow_any_user
@documented(response=obj(operators=array(obj(
    id=STRING, name=STRING, state=OPERATOR_STATE, reason=STRING, skills=SKILLS,
    call_id=nullable(STRING), pending_state=nullable(OPERATOR_STATE), missed_in_row=INTEGER))))
async def operators(request: web.Request) -> web.Response:
    names = request.app[ROSTER].names()
    views = request.app[CALL_CENTER].router.operators()
    return reply({"operators": [{
        "id": v.operator_id, "name": names.get(v.operator_id, v.operator_id), "state": v.state,
        "reason": v.reason, "skills": dict(v.skills), "call_id": v.call_id,
        "pending_state": v.pending_state, "missed_in_row": v.missed_in_row,
    } for v in views]})


@routes.put("/api/operators/{id}/state")
@allow_roles(ANY_ROLE)
@documented(body={"type": "object", "required": ["state"], "properties": {
    "state": {"enum": list(SETTABLE_STATES)}, "reason": {"type": "string", "maxLength": 64}}},
    response=STATE)
async def set_state(request: web.Request) -> web.Response:
    who = principal(request)
    operator_id = request.match_info["id"]
    if operator_id not in request.app[ROSTER].active_ids():
        raise NotFound(f"no operator {operator_id!r}")
    by_supervisor = who.role in SUPERVISORS
    if not by_supervisor and who.operator_id != operator_id:
        raise Forbidden("operators change only their own state")
    if who.role == Role.MANAGER:
        raise Forbidden("managers read the floor; supervisors change it")
    body = await json_object(request)
    state, reason = body.get("state"), body.get("reason", "")
    if state not in SETTABLE_STATES:
        raise InvalidRequest(f"state must be one of {', '.join(SETTABLE_STATES)}", field="state")
    if not isinstance(reason, str) or len(reason) > 64:
        raise InvalidRequest("reason must be text of at most 64 characters", field="reason")
    center = request.app[CALL_CENTER]
    event = OperatorStateRequested(operator_id, OperatorState(state), reason, by_supervisor)
    decisions = await center.submit(lambda: _apply(center, event))
    rejected = [d for d in decisions if isinstance(d, Rejected)]
    if rejected:
        raise InvalidRequest(rejected[0].detail, error=rejected[0].error_id)
    await ha_presence.remember(request.app, Presence(operator_id, state, reason))  # HA pair
    view = next((v for v in center.router.operators() if v.operator_id == operator_id), None)
    if view is None:  # deactivated meanwhile
        raise NotFound(f"no operator {operator_id!r}")
    return reply({"id": operator_id, "state": view.state, "reason": view.reason,
                  "pending_state": view.pending_state})


@routes.post("/api/operators/{id}/wrap-up/extend")
@allow_roles(ANY_ROLE)
@documented(response=obj(id=STRING, state=OPERATOR_STATE, wrap_up_left_s=NUMBER))
async def extend_wrap_up(request: web.Request) -> web.Response:
    """The operator needs more after-call time (once per call)."""
    who = principal(request)
    operator_id = request.match_info["id"]
    if operator_id not in request.app[ROSTER].active_ids():
        raise NotFound(f"no operator {operator_id!r}")
    if who.role not in SUPERVISORS and who.operator_id != operator_id:
        raise Forbidden("operators extend only their own wrap-up")
    center = request.app[CALL_CENTER]
    decisions = await center.submit(lambda: _apply(center, WrapUpExtended(operator_id)))
    rejected = [d for d in decisions if isinstance(d, Rejected)]
    if rejected:
        raise Conflict(rejected[0].detail, error=rejected[0].error_id)
    view = next((v for v in center.router.operators() if v.operator_id == operator_id), None)
    if view is None:  # deactivated meanwhile
        raise NotFound(f"no operator {operator_id!r}")
    return reply({"id": operator_id, "state": view.state,
                  "wrap_up_left_s": round(max(0.0, (view.wrap_up_ends_at or 0) - center.now()), 1)})


async def _apply(center: Any, event: Any) -> list[Any]:
    decisions = center.router.handle(event, center.now())
    await center.route_decisions(decisions)
    return list(decisions)


@routes.post("/api/calls/{call_id}/move")
@allow_roles(SUPERVISORS)
@documented(body={"type": "object", "required": ["service"], "properties": {
    "service": {"type": "string"}}}, response=CALL)
async def move_call(request: web.Request) -> web.Response:
    """A supervisor moves a waiting call to another service's queue (keeping its place)."""
    body = await json_object(request)
    service = body.get("service")
    if not isinstance(service, str) or service not in {s.id for s in request.app[SETTINGS].services}:
        raise InvalidRequest("service must be a configured service id", field="service")
    return await _floor_action(request, CallMoved(request.match_info["call_id"], service))


@routes.post("/api/calls/{call_id}/take")
@allow_roles(SUPERVISORS)
@documented(body={"type": "object", "required": ["operator_id"], "properties": {
    "operator_id": {"type": "string"}}}, response=CALL)
async def take_call(request: web.Request) -> web.Response:
    """A supervisor hands a waiting call to a chosen operator (rings their phone now)."""
    body = await json_object(request)
    operator_id = body.get("operator_id")
    if not isinstance(operator_id, str) or operator_id not in request.app[ROSTER].active_ids():
        raise InvalidRequest("operator_id must be an active operator", field="operator_id")
    return await _floor_action(request, CallTaken(request.match_info["call_id"], operator_id))


async def _floor_action(request: web.Request, event: CallMoved | CallTaken) -> web.Response:
    center = request.app[CALL_CENTER]
    decisions = await center.submit(lambda: _apply(center, event))
    rejected = [d for d in decisions if isinstance(d, Rejected)]
    if rejected:
        raise Conflict(rejected[0].detail, error=rejected[0].error_id)
    who = principal(request)
    await audit.record(request.app[SESSIONS], audit.AuditEntry(
        request.app[CLOCK](), who.name, who.role.value, f"call.{type(event).__name__}",
        event.call_id, {k: getattr(event, k) for k in event.__slots__}))
    view = center.router.call(event.call_id)
    return reply({"call_id": event.call_id, "service": view.service if view else None,
                  "state": view.state if view else None})


@routes.get("/api/queues")
@allow_any_user
@documented(response=obj(queues=array(obj(
    service=STRING, longest_wait_s=NUMBER, priority_delta=INTEGER, waiting=array(obj(
        call_id=STRING, state=CALL_STATE, wait_s=NUMBER, position=nullable(INTEGER),
        priority=INTEGER, level=INTEGER))))))
async def queues(request: web.Request) -> web.Response:
    center = request.app[CALL_CENTER]
    return reply({"queues": [{
        "service": q.service, "longest_wait_s": round(q.longest_wait_s, 1),
        "priority_delta": q.priority_delta,
        "waiting": [{"call_id": c.call_id, "state": c.state, "wait_s": round(c.wait_s, 1),
                     "position": c.position, "priority": c.priority, "level": c.level}
                    for c in q.waiting],
    } for q in center.router.queues(center.now())]})


@routes.get("/api/floor")
@allow_roles(READERS)
@documented(response={"type": "object", "required": [
    "services", "operators", "hours", "incident", "alerts"], "properties": {
    "services": {"type": "array", "items": {"type": "object", "required": [
        "id", "waiting_count", "longest_wait_s", "waiting", "today"]}},
    "operators": {"type": "array", "items": {"type": "object", "required": [
        "id", "state", "in_state_s", "call"]}},
    "hours": HOURS_STATUS, "incident": nullable(INCIDENT),
    "alerts": {"type": "array"}}})
async def wallboard(request: web.Request) -> web.Response:
    """The wallboard in one read: queues with today's figures, operators, hours, incident, alerts."""
    app = request.app
    return reply(snapshot(app[CALL_CENTER], app[SETTINGS], app[METRICS], app[HOURS],
                          app[INCIDENTS], app[FEED], app[CLOCK](), app[ROSTER].names()))


@routes.get("/api/events")
@allow_any_user
async def events(request: web.Request) -> web.WebSocketResponse:
    who = principal(request)
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    request.app[CONSOLE_SOCKETS].add(ws)
    feed = request.app[FEED]
    subscription = feed.subscribe(who)
    log.info("console.connected", user=who.name, role=who.role.value)
    await ws.send_json({"type": "hello", "user": who.name, "role": who.role.value})

    async def forward() -> None:
        while True:
            await ws.send_json(await subscription.queue.get())

    sender = asyncio.create_task(forward())
    try:
        async for message in ws:  # the console sends nothing we act on; reading notices closes
            if message.type == WSMsgType.ERROR:
                break
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await sender
        feed.unsubscribe(subscription)
        request.app[CONSOLE_SOCKETS].discard(ws)
        log.info("console.disconnected", user=who.name)
    return ws


async def close_consoles(app: web.Application) -> None:
    """On shutdown: tell every open console we are going away instead of waiting for it."""
    sockets: set[web.WebSocketResponse] = app[CONSOLE_SOCKETS]
    for ws in list(sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
