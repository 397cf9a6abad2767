"""The records over HTTP for supervisors, managers and admins: search with a total and cursor
paging, CSV/XLSX export of the same filter, and the audit log for admins. Every read is audited."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from cti.auth import READERS, Principal, Role
from cti.clock import wire_time
from cti.errors import InvalidRequest
from cti.keys import CLOCK, ROSTER, SESSIONS, SETTINGS
from cti.records import export
from cti.storage import audit
from cti.storage import records as store
from cti.tickets.rules import OUTCOMES
from cti.tickets.status import STATUSES
from cti.web.body import helpdesk_zone, parse_instant, reply
from cti.web.openapi import documented
from cti.web.security import allow, allow_roles, principal
from cti.web.tickets import TICKET, ticket_json

routes = web.RouteTableDef()
MAX_TEXT = 200
TARGETS = ("city", "vendor", "other")


def _choice(request: web.Request, name: str, options: Any) -> str | None:
    value = request.query.get(name) or None
    if value is not None and value not in options:
        raise InvalidRequest(f"{name} must be one of {', '.join(sorted(options))}", field=name,
                             got=value[:40])
    return value


def _bounded(request: web.Request, name: str, max_length: int) -> str | None:
    value = request.query.get(name) or None
    if value is not None and len(value) > max_length:
        raise InvalidRequest(f"{name} must be at most {max_length} characters", field=name)
    return value


TEXT = {"type": "string", "maxLength": 200}
INSTANT = {"type": "string", "format": "date-time"}
FILTERS: dict[str, dict[str, Any]] = {
    "since": INSTANT, "until": INSTANT, "service": TEXT, "category": TEXT, "status": TEXT,
    "outcome": TEXT, "operator": TEXT, "escalation_target": {"enum": list(TARGETS)}, "q": TEXT,
}
LIMIT = {"type": "integer", "minimum": 1, "maximum": 500}
PAGE = {"type": "object", "required": ["tickets", "total", "next_cursor"], "properties": {
    "tickets": {"type": "array", "items": TICKET},
    "total": {"type": "integer", "minimum": 0}, "next_cursor": {"type": ["string", "null"]}}}
AUDIT = {"type": "object", "required": ["entries", "total", "next_before"], "properties": {
    "entries": {"type": "array", "items": {"type": "object", "required": [
        "id", "at", "actor", "role", "action", "target", "detail"]}},
    "total": {"type": "integer", "minimum": 0}, "next_before": {"type": ["integer", "null"]}}}


def record_query(request: web.Request) -> store.RecordQuery:
    q = request.query
    settings = request.app[SETTINGS]
    return store.RecordQuery(
        since=parse_instant(q["since"], "since") if q.get("since") else None,
        until=parse_instant(q["until"], "until") if q.get("until") else None,
        service=_choice(request, "service", {s.id for s in settings.services}),
        category=_bounded(request, "category", 64),  # past categories stay searchable
        status=_choice(request, "status", STATUSES),
        outcome=_choice(request, "outcome", OUTCOMES),
        operator_id=_choice(request, "operator", set(request.app[ROSTER].names())),
        escalation_target=_choice(request, "escalation_target", TARGETS),
        text=_bounded(request, "q", MAX_TEXT),
    )


def _limit(request: web.Request, default: int, maximum: int) -> int:
    try:
        limit = int(request.query.get("limit", str(default)))
    except ValueError:
        raise InvalidRequest("limit must be a whole number", field="limit") from None
    if not 1 <= limit <= maximum:
        raise InvalidRequest(f"limit must be between 1 and {maximum}", field="limit", got=limit)
    return limit


async def _audit(request: web.Request, who: Principal, action: str, detail: dict[str, Any]) -> None:
    await audit.record(request.app[SESSIONS], audit.AuditEntry(
        request.app[CLOCK](), who.name, who.role.value, action, "tickets", detail))


@routes.get("/api/records")
@allow_roles(READERS)
@documented(query={**FILTERS, "cursor": TEXT, "limit": LIMIT}, response=PAGE)
async def search(request: web.Request) -> web.Response:
    """Tickets matching the filters, newest first: a page, the total, the cursor to the next."""
    query = record_query(request)
    limit = _limit(request, 50, 500)
    try:
        page = await store.search(request.app[SESSIONS], query,
                                  cursor=_bounded(request, "cursor", 200), limit=limit)
    except store.BadCursor as exc:
        raise InvalidRequest(str(exc), field="cursor") from None
    await _audit(request, principal(request), "records.search",
                 {"query": dict(request.query), "total": page.total, "count": len(page.tickets)})
    zone = helpdesk_zone(request)
    return reply({"tickets": [ticket_json(t, zone) for t in page.tickets], "total": page.total,
                  "next_cursor": page.next_cursor})


@routes.get("/api/records/export")
@allow_roles(READERS)
@documented(query={**FILTERS, "format": {"enum": ["csv", "xlsx"]}}, content_type=(
    "text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
async def export_records(request: web.Request) -> web.StreamResponse:
    """The filtered list as ``format=csv`` or ``format=xlsx`` (at most 100,000 rows)."""
    kind = request.query.get("format", "csv")
    if kind not in ("csv", "xlsx"):
        raise InvalidRequest("format must be csv or xlsx", field="format", got=kind[:10])
    query = record_query(request)
    who = principal(request)
    zone = request.app[SETTINGS].hours.timezone
    sessions = request.app[SESSIONS]
    stamp = request.app[CLOCK]().astimezone(zone).strftime("%Y%m%d-%H%M")
    name = f"tickets-{stamp}.{kind}"
    await _audit(request, who, "records.export", {"query": dict(request.query), "format": kind})
    if kind == "xlsx":
        rows = [export.row(v, zone) async for v in store.walk(sessions, query)]
        body = await asyncio.to_thread(export.xlsx_bytes, rows, "tickets")
        return web.Response(body=body, headers={
            "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "Content-Disposition": f'attachment; filename="{name}"'})
    response = web.StreamResponse(headers={"Content-Type": "text/csv; charset=utf-8",
                                           "Content-Disposition": f'attachment; filename="{name}"'})
    await response.prepare(request)
    async for chunk in export.csv_chunks(store.walk(sessions, query), zone):
        await response.write(chunk)
    await response.write_eof()
    return response


@routes.get("/api/audit")
@allow(Role.ADMIN)
@documented(query={"actor": TEXT, "action": TEXT, "before": {"type": "integer"}, "limit": LIMIT},
            response=AUDIT)
async def audit_log(request: web.Request) -> web.Response:
    """The audit log, newest first (``actor``, ``action``, ``before`` id, ``limit``)."""
    try:
        before = int(request.query["before"]) if request.query.get("before") else None
    except ValueError:
        raise InvalidRequest("before must be an entry id", field="before") from None
    zone = request.app[SETTINGS].hours.timezone
    found, total, next_before = await store.audit_page(
        request.app[SESSIONS], actor=_bounded(request, "actor", 64),
        action=_bounded(request, "action", 64), before_id=before, limit=_limit(request, 100, 500))
    who = principal(request)
    await audit.record(request.app[SESSIONS], audit.AuditEntry(
        request.app[CLOCK](), who.name, who.role.value, "audit.read", "audit_log",
        {"query": dict(request.query)}))
    return reply({"entries": [{"id": e.id, "at": wire_time(e.at, zone), "actor": e.actor,
                               "role": e.role, "action": e.action, "target": e.target,
                               "detail": e.detail} for e in found],
                  "total": total, "next_before": next_before})
