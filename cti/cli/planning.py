"""``cti forecast``: expected calls and operators needed."""

from __future__ import annotations

import asyncio
import json

from cti.cli.common import Refused, SubParsers, month, with_config, with_sessions
from cti.clock import utc_now
from cti.config import Settings


def register(sub: SubParsers) -> None:
    forecast = with_config(sub.add_parser(
        "forecast", help="expected calls per business day and hour, operators needed per hour"))
    forecast.add_argument("--month", required=True, metavar="YYYY-MM")
    forecast.add_argument("--json", action="store_true", help="the same as GET /api/forecast")
    forecast.set_defaults(
        run=lambda settings, args: asyncio.run(_forecast(settings, args.month, as_json=args.json)))


async def _forecast(settings: Settings, month_text: str, *, as_json: bool) -> int:
    from cti.config import BusinessCalendar
    from cti.forecasting import month_forecast
    from cti.metrics import ForecastError, render_forecast_text

    year, number = month(month_text)
    try:
        result = await with_sessions(settings, lambda s: month_forecast(
            settings, BusinessCalendar(settings.hours), s, year, number, utc_now()))
    except ForecastError as exc:
        raise Refused(str(exc)) from None
    print(json.dumps(result.to_json(), ensure_ascii=False, indent=2) if as_json
          else render_forecast_text(result))
    return 0
