"""Flood control at the SIP front door, sans-IO (in the spirit of Kamailio's pike module).

- Per-source INVITE rate: a token bucket per source IP (``rate`` tokens/s, ``burst`` deep).
  A source over its rate gets 503 + Retry-After; other sources are not affected.
- A cap on concurrent calls: over it, every new INVITE gets 503 + Retry-After.
Time comes in as ``now``; the table of sources is bounded (oldest forgotten first).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum

MAX_SOURCES = 10_000


class Refusal(StrEnum):
    RATE = "rate"  # this source sends INVITEs faster than allowed
    CAPACITY = "capacity"  # the service has as many calls as it may


@dataclass(frozen=True, slots=True)
class FloodLimits:
    invites_per_second: float = 0.0  # per source IP; 0 = no limit
    burst: int = 10  # INVITEs a source may send at once before the rate applies
    max_calls: int = 0  # concurrent calls; 0 = no limit
    retry_after_s: int = 5


class FloodGuard:
    def __init__(self, limits: FloodLimits) -> None:
        self.limits = limits
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # ip -> (tokens, t)
        self.refused = {Refusal.RATE: 0, Refusal.CAPACITY: 0}

    def admit(self, source: str, now: float, active_calls: int) -> Refusal | None:
        """None when this INVITE may become a call; else why it is refused (and counted)."""
        limits = self.limits
        if limits.invites_per_second > 0:
            tokens, last = self._buckets.pop(source, (float(limits.burst), now))
            tokens = min(float(limits.burst), tokens + (now - last) * limits.invites_per_second)
            self._buckets[source] = (tokens - 1.0 if tokens >= 1.0 else tokens, now)
            if len(self._buckets) > MAX_SOURCES:
                self._buckets.popitem(last=False)
            if tokens < 1.0:
                self.refused[Refusal.RATE] += 1
                return Refusal.RATE
        if limits.max_calls and active_calls >= limits.max_calls:
            self.refused[Refusal.CAPACITY] += 1
            return Refusal.CAPACITY
        return None
