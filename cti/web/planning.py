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
from cti.web.openapi import INTEGER, NUMBER, STRING, TIME, array, documented, nullable, obj
from cti.web.security import allow_any_user

routes = web.RouteTableDef()
#: ``Staffing.to_json`` (``asa_seconds`` null: the queue never settles)
STAFFING = obj(operators=INTEGER, service_level=NUMBER, asa_seconds=nullable(NUMBER),
               occupancy=NUMBER, wait_probability=NUMBER, abandon_probability=NUMBER,
               model={"enum": ["erlang_c", "erlang_a"]})
FORECAST = obj(
    month=STRING, baseline_calls=INTEGER, peak_baseline_calls=INTEGER,
    month_to_date=nullable(INTEGER), as_of=nullable(TIME), business_days=INTEGER,
    business_days_elapsed=NUMBER, scale=NUMBER, projected_calls=NUMBER,
    model={"enum": ["erlang_c", "erlang_a"]}, aht_seconds=NUMBER, target=NUMBER,
    within_seconds=NUMBER, abandon_rate=nullable(NUMBER),
    days=array(obj(date={"type": "string", "format": "date"}, expected_calls=NUMBER,
                   elapsed=NUMBER)),
    hours=array({**STAFFING, "required": ["start", "end", "expected_calls", "calls_per_hour",
                                          *STAFFING["required"]],
                 "properties": {"start": STRING, "end": STRING, "expected_calls": NUMBER,
                                "calls_per_hour": NUMBER, **STAFFING["properties"]}}))
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str) -> tuple[int, int]:
    match = _MONTH.match(text)
    if not match:
        raise InvalidRequest('month must be "YYYY-MM", e.g. 2027-04', field="month", got=text)
    return int(match.group(1)), int(match.group(2))


@routes.get("/api/forecast")
@allow_any_user
@documented(query={"month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}},
            response=FORECAST)
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
@documented(query={name: {"type": "number"} for name in (
    "calls_per_hour", "aht_seconds", "target", "within_seconds", "abandon_rate")},
    response=STAFFING)
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
