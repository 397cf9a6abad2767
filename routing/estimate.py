"""Expected-wait estimate from recent handle times (talk + wrap-up) per service."""

from __future__ import annotations

import math
from collections import deque


class HandleTimes:
    def __init__(self, services: dict[str, float], window: int) -> None:
        self._defaults = services
        self._recent: dict[str, deque[float]] = {s: deque(maxlen=window) for s in services}
        self._sums: dict[str, float] = dict.fromkeys(services, 0.0)

    def record(self, service: str, seconds: float) -> None:
        recent = self._recent[service]
        if len(recent) == recent.maxlen:
            self._sums[service] -= recent[0]
        recent.append(seconds)
        self._sums[service] += seconds

    def average(self, service: str) -> float:
        recent = self._recent[service]
        if not recent:
            return self._defaults[service]
        return self._sums[service] / len(recent)

    def expected_wait(self, service: str, position: int, staffed: int) -> float:
        """Seconds until a caller at `position` is likely answered.

        A plain estimate: the callers ahead and this one are served `staffed`
        at a time, each taking the recent average handle time; rounded up to
        whole seconds.
        """
        return float(math.ceil(position * self.average(service) / max(staffed, 1)))
