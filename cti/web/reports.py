"""``GET /api/reports/monthly?month=YYYY-MM&format=json|csv|text`` for supervisors and managers."""

from __future__ import annotations

from aiohttp import web

from cti.auth import READERS
from cti.errors import InvalidRequest
from cti.keys import CLOCK, SESSIONS, SETTINGS
from cti.reports import monthly_report
from cti.storage import audit
from cti.web.body import reply
from cti.web.planning import parse_month
from cti.web.security import allow_roles, principal

routes = web.RouteTableDef()


@routes.get("/api/reports/monthly")
@allow_roles(READERS)
async def monthly(request: web.Request) -> web.Response:
    month_text = request.query.get("month")
    if not month_text:
        raise InvalidRequest('month is required, e.g. "2026-04"', field="month")
    year, month = parse_month(month_text)
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "csv", "text"):
        raise InvalidRequest("format must be json, csv or text", field="format")
    report = await monthly_report(request.app[SETTINGS], request.app[SESSIONS], year, month)
    who = principal(request)
    await audit.record(request.app[SESSIONS], audit.AuditEntry(
        request.app[CLOCK](), who.name, who.role.value, "report.monthly", month_text,
        {"format": fmt}))
    if fmt == "csv":
        return web.Response(text=report.to_csv(), content_type="text/csv", charset="utf-8",
                            headers={"Content-Disposition":
                                     f'attachment; filename="cti-report-{month_text}.csv"'})
    if fmt == "text":
        return web.Response(text=report.to_text(), content_type="text/plain", charset="utf-8")
    return reply(report.to_json())
