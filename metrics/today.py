"""Today's figures per service, business hours only: the one tally of the wallboard's KPIs and
of the Prometheus series that carry them (``cti_service_level_ratio``, ``cti_calls_today``,
``cti_mean_seconds_today``); the formulas come from ``definitions``, shared with the monthly report.

* offered: calls that reached the service's queue (the caller chose it in the menu);
* answered: calls an operator answered; abandoned: callers who hung up while queued or ringing;
* service level: answered within the threshold / (answered + abandoned);
* average speed of answer: mean wait of the answered calls;
* average handle time: mean of connect → call end of the calls finished today.

Only events inside business hours count (the caller of ``DayTally`` decides); a new day starts
empty. Not thread-safe on its own: ``CtiMetrics`` holds its lock around every call.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cti.metrics.definitions import service_level


@dataclass(slots=True)
class _ServiceDay:
    offered: int = 0
    answered: int = 0
    answered_in_time: int = 0
    abandoned: int = 0
    wait_sum: float = 0.0
    handle_sum: float = 0.0
    handled: int = 0


@dataclass(frozen=True, slots=True)
class TodayFigures:
    service: str
    offered: int
    answered: int
    abandoned: int
    answered_in_time: int
    service_level: float | None
    asa_seconds: float | None
    aht_seconds: float | None

    def as_json(self) -> dict[str, object]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 3)

        return {"service": self.service, "offered": self.offered, "answered": self.answered,
                "abandoned": self.abandoned, "answered_in_time": self.answered_in_time,
                "service_level": rounded(self.service_level),
                "asa_seconds": rounded(self.asa_seconds), "aht_seconds": rounded(self.aht_seconds)}


class DayTally:
    def __init__(self, services: tuple[str, ...]) -> None:
        self._services = services
        self._day: dt.date | None = None
        self._by_service: dict[str, _ServiceDay] = {}

    def roll(self, today: dt.date) -> None:
        """A new day's figures start empty (so yesterday's never alerts this morning)."""
        if self._day != today:
            self._day = today
            self._by_service = {s: _ServiceDay() for s in self._services}

    def offered(self, service: str) -> None:
        self._by_service[service].offered += 1

    def answered(self, service: str, wait_s: float, *, in_time: bool) -> None:
        day = self._by_service[service]
        day.answered += 1
        day.answered_in_time += int(in_time)
        day.wait_sum += wait_s

    def abandoned(self, service: str) -> None:
        self._by_service[service].abandoned += 1

    def finished(self, service: str, handle_s: float) -> None:
        day = self._by_service[service]
        day.handled += 1
        day.handle_sum += handle_s

    def figures(self) -> list[TodayFigures]:
        out = []
        for service in self._services:
            day = self._by_service.get(service, _ServiceDay())
            out.append(TodayFigures(
                service, day.offered, day.answered, day.abandoned, day.answered_in_time,
                service_level(day.answered_in_time, day.answered + day.abandoned),
                day.wait_sum / day.answered if day.answered else None,
                day.handle_sum / day.handled if day.handled else None))
        return out
