"""Planning answers: ``GET /api/forecast`` and ``GET /api/staffing`` (any logged-in role)."""

from __future__ import annotations

import asyncio
import re

from aiohttp import web

from cti.errors import InvalidRequest
from cti.forecasting import month_forecast
from cti.keys import CLOCK, HOURS, SESSIONS, SETTINGS
from cti.metrics import staffing
from cti.metrics.errors import PlanningInputError
from cti.web.body import reply
from cti.web.security import allow_any_user

routes = web.RouteTableDef()
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str) -> tuple[int, int]:
    match = _MONTH.match(text)
    if not match:
        raise InvalidRequest('month must be "YYYY-MM", e.g. 2027-04', field="month", got=text)
    return int(match.group(1)), int(match.group(2))


@routes.get("/api/forecast")
@allow_any_user
async def forecast(request: web.Request) -> web.Response:
    now = request.app[CLOCK]()
    local = now.astimezone(request.app[SETTINGS].hours.timezone)
    year, month = parse_month(request.query.get("month", f"{local:%Y-%m}"))
    try:
        result = await month_forecast(request.app[SETTINGS], request.app[HOURS].calendar,
                                      request.app[SESSIONS], year, month, now)
    except PlanningInputError as exc:
        raise InvalidRequest(str(exc), field=exc.field) from None
    return reply(result.to_json())


def _number(request: web.Request, name: str, default: float | None = None) -> float:
    text = request.query.get(name)
    if text is None:
        if default is None:
            raise InvalidRequest(f"{name} is required", field=name)
        return default
    try:
        return float(text)
    except ValueError:
        raise InvalidRequest(f"{name} must be a number", field=name, got=text) from None


@routes.get("/api/staffing")
@allow_any_user
async def staffing_needed(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    calls = _number(request, "calls_per_hour")
    aht = _number(request, "aht_seconds")
    target = _number(request, "target", settings.metrics.service_level_target)
    within = _number(request, "within_seconds", float(settings.metrics.service_level_seconds))
    abandon = request.query.get("abandon_rate")
    try:
        result = await asyncio.to_thread(
            staffing, calls, aht, target, within,
            _number(request, "abandon_rate") if abandon is not None else None)
    except PlanningInputError as exc:
        raise InvalidRequest(str(exc), field=exc.field) from None
    return reply(result.to_json())
