"""The definitions of the helpdesk's performance figures, in one place.

The live Prometheus series (``CtiMetrics``) and the monthly report (``cti.reports.figures``) both
count with these functions, so "service level" means the same on the dashboard and on paper:

- service level: of the calls that reached a queue during business hours, the share answered
  within the threshold; a caller who hung up while waiting counts as a miss;
- average speed of answer: mean wait of the answered ones;
- abandon rate: hung up while waiting / (answered + hung up while waiting).
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import mean


def answered_in_time(wait_s: float, threshold_s: float) -> bool:
    """An answer counts for the service level when the caller waited no longer than the threshold."""
    return wait_s <= threshold_s


def service_level(in_time: int, counted: int) -> float | None:
    """Answered in time / calls counted (answered + abandoned in queue); None with no calls."""
    return in_time / counted if counted else None


def abandon_rate(abandoned_in_queue: int, answered: int) -> float | None:
    total = abandoned_in_queue + answered
    return abandoned_in_queue / total if total else None


def average(values: Sequence[float]) -> float | None:
    """Average speed of answer / handle time: the plain mean, None with no calls."""
    return mean(values) if values else None
