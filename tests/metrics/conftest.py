"""Fixtures for the metrics tests: a Japanese business-day predicate and a clock tests move."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import holidays
import pytest
from prometheus_client import CollectorRegistry

from cti.metrics import DEFAULT_BASELINE, CtiMetrics

JST = dt.timezone(dt.timedelta(hours=9))
SERVICES = ("isolation", "skysea", "portal", "licenses", "telework", "other")


def japan_business_day() -> Callable[[dt.date], bool]:
    """Mon-Fri except Japanese national holidays (a stand-in for the lead's BusinessCalendar)."""
    national = holidays.Japan()

    def is_business_day(day: dt.date) -> bool:
        return day.weekday() < 5 and day not in national

    return is_business_day


@dataclass
class MovableClock:
    now: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def is_business_day() -> Callable[[dt.date], bool]:
    return japan_business_day()


@pytest.fixture
def metrics_clock() -> MovableClock:
    # Friday 9 April 2027, 10:00 in Tokyo: a business day in the April peak, helpdesk open.
    return MovableClock(dt.datetime(2027, 4, 9, 10, 0, tzinfo=JST))


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(
    registry: CollectorRegistry,
    is_business_day: Callable[[dt.date], bool],
    metrics_clock: MovableClock,
) -> CtiMetrics:
    return CtiMetrics(
        registry,
        baseline=DEFAULT_BASELINE,
        services=SERVICES,
        service_level_threshold_s=20.0,
        is_business_day=is_business_day,
        clock=metrics_clock,
    )
