"""Prometheus metrics, Erlang C/A staffing and the monthly call forecast."""

from cti.metrics.collector import CtiMetrics
from cti.metrics.erlang import Staffing, StaffingError, erlang_b, erlang_c, evaluate, staffing
from cti.metrics.forecast import (
    DEFAULT_BASELINE,
    DEFAULT_CLOSES,
    DEFAULT_HOURLY_PROFILE,
    DEFAULT_OPENS,
    DayForecast,
    ForecastError,
    HourForecast,
    MonthForecast,
    forecast_month,
)
from cti.metrics.labels import (
    DEFAULT_ESCALATION_TARGETS,
    DEFAULT_OPERATOR_STATES,
    DEFAULT_OUTCOMES,
    UnknownLabelError,
)
from cti.metrics.render import render_forecast_text

__all__ = [
    "DEFAULT_BASELINE",
    "DEFAULT_CLOSES",
    "DEFAULT_ESCALATION_TARGETS",
    "DEFAULT_HOURLY_PROFILE",
    "DEFAULT_OPENS",
    "DEFAULT_OPERATOR_STATES",
    "DEFAULT_OUTCOMES",
    "CtiMetrics",
    "DayForecast",
    "ForecastError",
    "HourForecast",
    "MonthForecast",
    "Staffing",
    "StaffingError",
    "UnknownLabelError",
    "erlang_b",
    "erlang_c",
    "evaluate",
    "forecast_month",
    "render_forecast_text",
    "staffing",
]
