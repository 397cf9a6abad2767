"""Flood control at the SIP front door, sans-IO (in the spirit of Kamailio's pike module).

- Per-source INVITE rate: a token bucket per source IP (``rate`` tokens/s, ``burst`` deep).
  A source over its rate gets 503 + Retry-After; other sources are not affected.
- A cap on concurrent calls: over it, every new INVITE gets 503 + Retry-After.
- Saturation (back-pressure): while the process lags (its event loop runs late by more than
  ``max_lag_s``, measured by the caller), new INVITEs get 503 + Retry-After at once instead of
  every caller being answered seconds late. Lateness counts when it lasts (``Lateness``): one
  stall of the process is over by the time the next INVITE is read. A kernel that dropped SIP
  datagrams because the socket's receive queue was full (``Drops``) means the same: the service
  reads slower than callers send, and each dropped request waits for its retransmission.
- Each refused INVITE leaves a call record, but a flood must not turn into a flood of records:
  ``record_refusal`` hands out, per kind, tokens from a bucket: a source over its rate (a flood)
  ``flood_records_per_s`` (burst ``flood_records_burst``); callers refused for capacity,
  saturation or RTP ports (real callers, when the service is full) ``records_per_s`` (burst
  ``records_burst``), enough for every one of them at the rates this service takes. The
  refusals beyond a budget are counted (``unrecorded``) and in the metrics only.
Time comes in as ``now``; the table of sources is bounded (oldest forgotten first).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass
from enum import StrEnum

MAX_SOURCES = 10_000
LATENESS_WINDOW = 3  # probes in a row that must all run late for the loop to count as late
DROPS_HOLD_S = 1.0  # after the kernel dropped SIP datagrams, saturated for this long


class Refusal(StrEnum):
    RATE = "rate"  # this source sends INVITEs faster than allowed
    CAPACITY = "capacity"  # the service has as many calls as it may
    SATURATED = "saturated"  # the process runs late: answering would only be late for everyone
    RTP_PORTS = "rtp_ports"  # no free RTP port pair in the configured range


@dataclass(frozen=True, slots=True)
class FloodLimits:
    invites_per_second: float = 0.0  # per source IP; 0 = no limit
    burst: int = 10  # INVITEs a source may send at once before the rate applies
    max_calls: int = 0  # concurrent calls; 0 = no limit
    retry_after_s: int = 5
    max_lag_s: float = 0.0  # event-loop lag that counts as saturated; 0 = never refuse for it
    records_per_s: float = 1000.0  # capacity/saturation/port refusals recorded per second
    records_burst: int = 5000
    flood_records_per_s: float = 20.0  # refusals of a source over its rate recorded per second
    flood_records_burst: int = 200


class FloodGuard:
    def __init__(self, limits: FloodLimits) -> None:
        self.limits = limits
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # ip -> (tokens, t)
        self.refused = dict.fromkeys(Refusal, 0)
        self.unrecorded = 0
        self._record_tokens: dict[bool, tuple[float, float | None]] = {
            True: (float(limits.flood_records_burst), None),
            False: (float(limits.records_burst), None)}

    def admit(self, source: str, now: float, active_calls: int, lag_s: float = 0.0
              ) -> Refusal | None:
        """None when this INVITE may become a call; else why it is refused (and counted).
        ``lag_s``: how late the process's event loop runs now."""
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
        if limits.max_lag_s and lag_s > limits.max_lag_s:
            self.refused[Refusal.SATURATED] += 1
            return Refusal.SATURATED
        return None

    def record_refusal(self, now: float, refusal: Refusal) -> bool:
        """May this refusal leave a call record? (False: over its record budget; counted.)"""
        limits, flood = self.limits, refusal is Refusal.RATE
        rate, burst = ((limits.flood_records_per_s, limits.flood_records_burst) if flood
                       else (limits.records_per_s, limits.records_burst))
        tokens, last = self._record_tokens[flood]
        tokens = min(float(burst), tokens + (now - (now if last is None else last)) * rate)
        if tokens < 1.0:
            self._record_tokens[flood] = (tokens, now)
            self.unrecorded += 1
            return False
        self._record_tokens[flood] = (tokens - 1.0, now)
        return True


class Lateness:
    """How late the event loop runs, from a watcher's probes (each: how much later than asked
    a short sleep woke up). What counts is lateness that lasts: the least of the last
    ``window`` probes. A single stall (a long garbage collection, a slow disk, a host that
    paused the machine) makes one probe late and is over; turning callers away for it would
    refuse callers the service can answer at once (it refused the first call of an idle
    service after one such stall). A service that cannot keep up is late at every probe."""

    def __init__(self, window: int = LATENESS_WINDOW) -> None:
        self._recent: deque[float] = deque([0.0] * window, maxlen=window)
        self.probes = 0

    def observe(self, late_s: float) -> None:
        self._recent.append(max(0.0, late_s))
        self.probes += 1

    @property
    def latest_s(self) -> float:
        """The last probe's lateness."""
        return self._recent[-1]

    @property
    def sustained_s(self) -> float:
        """Lateness every one of the last ``window`` probes had: the saturation input."""
        return min(self._recent)


class Drops:
    """Datagrams the kernel dropped at the SIP socket because its receive queue was full, from
    a watcher's probes of the running total. Under saturation the event loop itself is on time
    (it reads one datagram per turn and runs its timers between them): the backlog is in the
    kernel's queue, which holds about 60 ms of a storm (212,992 bytes by default) and then
    drops. Measured on a machine too slow for 300 calls/s: 0 refused, p99 INVITE→200 7.6 s,
    the INVITEs answered after their retransmissions. Saturated from a probe that saw the total
    grow until ``hold_s`` after it."""

    def __init__(self, hold_s: float = DROPS_HOLD_S) -> None:
        self.hold_s = hold_s
        self.total = 0
        self._until = float("-inf")

    def observe(self, total: int, now: float) -> int:
        """Record the running total; return how many were dropped since the last probe."""
        new = max(0, total - self.total)
        self.total = max(total, self.total)
        if new:
            self._until = now + self.hold_s
        return new

    def recent(self, now: float) -> bool:
        """Did the kernel drop SIP datagrams within the last ``hold_s``?"""
        return now < self._until
