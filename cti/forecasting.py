"""The monthly forecast and staffing answers, from the configuration and the records so far."""

from __future__ import annotations

from datetime import datetime, timedelta

from cti.config import BusinessCalendar, Settings
from cti.metrics import MonthForecast, forecast_month
from cti.storage.tickets import Sessions, average_talk_seconds, count_calls_since

AHT_WINDOW = timedelta(days=30)
DEFAULT_AHT_SECONDS = 300.0  # before there are records: five minutes a call


async def month_forecast(settings: Settings, calendar: BusinessCalendar, sessions: Sessions,
                         year: int, month: int, now: datetime) -> MonthForecast:
    local_now = now.astimezone(settings.hours.timezone)
    current = (local_now.year, local_now.month) == (year, month)
    month_start = local_now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    aht = await average_talk_seconds(sessions, now - AHT_WINDOW) or DEFAULT_AHT_SECONDS
    return forecast_month(
        year, month,
        baseline=settings.baseline,
        is_business_day=calendar.is_business_day,
        opens=settings.hours.open, closes=settings.hours.close, tz=settings.hours.timezone,
        aht_seconds=aht,
        target=settings.metrics.service_level_target,
        within_seconds=float(settings.metrics.service_level_seconds),
        abandon_rate=settings.metrics.abandon_rate_per_second or None,
        month_to_date=await count_calls_since(sessions, month_start) if current else None,
        now=now if current else None,
    )
