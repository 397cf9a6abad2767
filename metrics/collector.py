"""CtiMetrics: the one object through which the service reports what happened.

Built once by the app with an injected ``CollectorRegistry`` (tests use a
fresh one).  Every label value comes from a closed set given to the
constructor (services, outcomes, operator states, escalation targets,
months); anything else raises ``UnknownLabelError`` so an unbounded value
(a caller id, a ticket id) can never become a time series.

Metrics that depend on the clock (month-to-date and its forecast, the
current hour's arrival rate and the Erlang staffing it needs, whether the
helpdesk is open, today's service level) are computed when Prometheus scrapes, from the injected
``clock``, so they move on even when no call arrives.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from cti.metrics.definitions import answered_in_time
from cti.metrics.erlang import StaffingError, staffing
from cti.metrics.forecast import (
    DEFAULT_AHT_SECONDS,
    DEFAULT_CLOSES,
    DEFAULT_HOURLY_PROFILE,
    DEFAULT_OPENS,
    TOKYO,
    BusinessDayPredicate,
    Slot,
    business_days_of,
    current_slot,
    elapsed_by_day,
    local,
    opening_slots,
    project_month_end,
)
from cti.metrics.labels import (
    DEFAULT_ESCALATION_TARGETS,
    DEFAULT_OPERATOR_STATES,
    DEFAULT_OUTCOMES,
    DEFAULT_UNROUTED_REASONS,
    HANDLE_BUCKETS,
    QUEUE_WAIT_BUCKETS,
    UnknownLabelError,
)
from cti.metrics.today import DayTally, TodayFigures

log = structlog.get_logger(__name__)

ARRIVALS_KEPT = 10_000


class SipSocketView(Protocol):
    """What the metrics read of the SIP socket (cti.sip.control.SocketHealth)."""

    @property
    def bound(self) -> bool: ...

    @property
    def send_errors(self) -> int: ...

    @property
    def last_datagram_at(self) -> float | None: ...

    @property
    def reopened(self) -> int: ...

    @property
    def datagrams_dropped(self) -> int: ...

    @property
    def invites_refused_rate(self) -> int: ...

    @property
    def invites_refused_capacity(self) -> int: ...

    @property
    def invites_refused_saturated(self) -> int: ...

    @property
    def invites_refused_rtp_ports(self) -> int: ...

    @property
    def refusals_unrecorded(self) -> int: ...

    @property
    def media(self) -> str: ...  # "ok" or "error: ..." (a media worker down)

    @property
    def media_late_ticks(self) -> int: ...


class CtiMetrics:
    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        baseline: Sequence[int],
        services: Sequence[str],
        service_level_threshold_s: float,
        is_business_day: BusinessDayPredicate,
        service_level_target: float = 0.8,
        opens: dt.time = DEFAULT_OPENS,
        closes: dt.time = DEFAULT_CLOSES,
        hourly_profile: Mapping[int, float] = DEFAULT_HOURLY_PROFILE,
        outcomes: Sequence[str] = DEFAULT_OUTCOMES,
        abandon_outcomes: Sequence[str] = ("abandoned",),
        operator_states: Sequence[str] = DEFAULT_OPERATOR_STATES,
        escalation_targets: Sequence[str] = DEFAULT_ESCALATION_TARGETS,
        default_aht_seconds: float = DEFAULT_AHT_SECONDS,
        abandon_rate: float | None = None,
        arrival_window_s: float = 3600.0,
        handle_samples: int = 50,
        clock: Callable[[], dt.datetime] | None = None,
        tz: dt.tzinfo = TOKYO,
        is_open_at: Callable[[dt.datetime], bool] | None = None,
    ) -> None:
        """``is_business_day`` shapes the forecast; ``is_open_at`` (default: a business day
        between ``opens`` and ``closes``) decides business hours for the service level and
        ``cti_business_hours`` - pass the BusinessCalendar's answer to honour overrides."""
        if len(baseline) != 12:
            raise ValueError(f"baseline needs 12 monthly counts (Jan..Dec), got {len(baseline)}")
        self._baseline = tuple(int(b) for b in baseline)
        self._services = tuple(services)
        self._outcomes = tuple(outcomes)
        self._abandon_outcomes = frozenset(abandon_outcomes)
        self._states = tuple(operator_states)
        self._targets = tuple(escalation_targets)
        self._threshold = float(service_level_threshold_s)
        self._sl_target = service_level_target
        self._is_business_day = is_business_day
        self._opens, self._closes = opens, closes
        self._is_open_at = is_open_at
        self._slots: tuple[Slot, ...] = opening_slots(opens, closes, hourly_profile)
        self._default_aht = default_aht_seconds
        self._abandon_rate = abandon_rate
        self._window = arrival_window_s
        self._tz = tz
        self._clock = clock or (lambda: dt.datetime.now(tz))
        self._lock = threading.Lock()
        self._arrivals = {s: deque[float](maxlen=ARRIVALS_KEPT) for s in self._services}
        self._handles = {s: deque[float](maxlen=handle_samples) for s in self._services}
        self._today = DayTally(self._services)
        self._mtd = 0
        self._mtd_month: tuple[int, int] | None = None
        self._open_escalations = dict.fromkeys(self._targets, 0)
        self._longest_waits = dict.fromkeys(self._services, (0.0, 0.0))
        self._business_days: dict[tuple[int, int], tuple[dt.date, ...]] = {}
        self._sip_socket: Callable[[], SipSocketView | None] = lambda: None
        self._ticket_queue: Callable[[], int] | None = None
        self._define(registry)
        registry.register(self)

    # -- metric definitions -------------------------------------------------

    def _define(self, registry: CollectorRegistry) -> None:
        buckets = tuple(sorted({*QUEUE_WAIT_BUCKETS, self._threshold}))
        self._calls = Counter("cti_calls", "Calls by final outcome", ["service", "outcome"],
                              registry=registry)  # fmt: skip
        self._offered = Counter("cti_calls_offered", "Calls offered to the queue", ["service"],
                                registry=registry)  # fmt: skip
        self._waiting = Gauge("cti_calls_waiting", "Callers waiting now", ["service"],
                              registry=registry)  # fmt: skip
        self._queue_wait = Histogram("cti_queue_wait_seconds", "Wait before an operator answered",
                                     ["service"], buckets=buckets, registry=registry)  # fmt: skip
        self._handle = Histogram("cti_handle_seconds", "Handle time of finished calls",
                                 ["service"], buckets=HANDLE_BUCKETS, registry=registry)  # fmt: skip
        self._operators = Gauge("cti_operators", "Operators by state", ["state"],
                                registry=registry)  # fmt: skip
        self._available = Gauge("cti_operators_available", "Operators available per service",
                                ["service"], registry=registry)  # fmt: skip
        self._baseline_gauge = Gauge("cti_calls_baseline", "Seasonal baseline of calls per month",
                                     ["month"], registry=registry)  # fmt: skip
        self._escalations = Gauge("cti_escalations_open", "Open escalations", ["target"],
                                  registry=registry)  # fmt: skip
        self._sip = Gauge("cti_sip_registered", "1 while the SIP trunk is registered",
                          registry=registry)  # fmt: skip
        self._ticket_errors = Counter("cti_tickets_write_errors", "Failed ticket writes",
                                      registry=registry)  # fmt: skip
        self._tickets_rejected = Counter(
            "cti_tickets_rejected", "Call records the database can never accept, set aside",
            registry=registry)
        self._unrouted = Counter("cti_calls_unrouted", "Calls that ended before reaching a queue",
                                 ["reason"], registry=registry)  # fmt: skip
        for reason in DEFAULT_UNROUTED_REASONS:
            self._unrouted.labels(reason)
        for service in self._services:
            self._offered.labels(service)
            self._waiting.labels(service).set(0)
            self._queue_wait.labels(service)
            self._handle.labels(service)
            self._available.labels(service).set(0)
            for outcome in self._outcomes:
                self._calls.labels(service, outcome)
        for state in self._states:
            self._operators.labels(state).set(0)
        # The gauges set after every routing decision, by label (``labels()`` takes a lock and
        # validates its arguments on each call).
        self._waiting_of = {s: self._waiting.labels(s) for s in self._services}
        self._operators_of = {s: self._operators.labels(s) for s in self._states}
        self._available_of = {s: self._available.labels(s) for s in self._services}
        for target in self._targets:
            self._escalations.labels(target).set(0)
        for month, count in enumerate(self._baseline, start=1):
            self._baseline_gauge.labels(f"{month:02d}").set(count)

    def _check(self, label: str, value: str, allowed: Sequence[str]) -> None:
        if value not in allowed:
            raise UnknownLabelError(label, value, allowed)

    def _now(self) -> dt.datetime:
        return local(self._clock(), self._tz)

    def is_open(self, now: dt.datetime) -> bool:
        """Business hours: ``is_open_at`` if given, else a business day between opening and closing."""
        if self._is_open_at is not None:
            return self._is_open_at(now)
        t = now.time()
        return self._is_business_day(now.date()) and self._opens <= t < self._closes

    # -- what happened ------------------------------------------------------

    def call_offered(self, service: str) -> None:
        self._check("service", service, self._services)
        now = self._now()
        self._offered.labels(service).inc()
        with self._lock:
            self._arrivals[service].append(now.timestamp())
            self._roll_month(now)
            self._mtd += 1
        self._count_today(now, lambda today: today.offered(service))

    def call_ended(self, service: str, outcome: str, *, in_queue: bool = True) -> None:
        """A call reached its end.  An abandon counts against the service level when the
        caller had reached the queue (``in_queue``; not when they hung up in the IVR)."""
        self._check("service", service, self._services)
        self._check("outcome", outcome, self._outcomes)
        self._calls.labels(service, outcome).inc()
        if in_queue and outcome in self._abandon_outcomes:
            self._count_today(self._now(), lambda today: today.abandoned(service))

    def call_unrouted(self, reason: str) -> None:
        """A call ended before any service's queue: after hours, or a hang-up in the menu."""
        self._check("reason", reason, DEFAULT_UNROUTED_REASONS)
        self._unrouted.labels(reason).inc()

    def call_answered(self, service: str, wait_s: float) -> None:
        self._check("service", service, self._services)
        self._queue_wait.labels(service).observe(wait_s)
        in_time = answered_in_time(wait_s, self._threshold)
        self._count_today(self._now(), lambda today: today.answered(service, wait_s, in_time=in_time))

    def call_finished(self, service: str, handle_s: float) -> None:
        self._check("service", service, self._services)
        self._handle.labels(service).observe(handle_s)
        with self._lock:
            self._handles[service].append(handle_s)
        self._count_today(self._now(), lambda today: today.finished(service, handle_s))

    def queue_changed(self, service: str, waiting: int, longest_wait_s: float) -> None:
        self._check("service", service, self._services)
        self._waiting_of[service].set(waiting)
        with self._lock:
            # The longest waiter keeps waiting until the queue changes again: scrapes add the
            # time since this report, so the gauge grows while nobody is answered.
            self._longest_waits[service] = (
                (longest_wait_s, self._now().timestamp()) if waiting > 0 else (0.0, 0.0)
            )

    def operators_changed(
        self, counts_by_state: Mapping[str, int], available_by_service: Mapping[str, int]
    ) -> None:
        """Absolute counts; states and services not mentioned are set to 0."""
        for state in counts_by_state:
            self._check("state", state, self._states)
        for service in available_by_service:
            self._check("service", service, self._services)
        for state, gauge in self._operators_of.items():
            gauge.set(counts_by_state.get(state, 0))
        for service, gauge in self._available_of.items():
            gauge.set(available_by_service.get(service, 0))

    def escalation_opened(self, target: str) -> None:
        self._check("target", target, self._targets)
        with self._lock:
            self._open_escalations[target] += 1
            self._escalations.labels(target).set(self._open_escalations[target])

    def escalation_closed(self, target: str) -> None:
        self._check("target", target, self._targets)
        with self._lock:
            if self._open_escalations[target] <= 0:
                log.warning("metrics.escalation_close_without_open", target=target)
                return
            self._open_escalations[target] -= 1
            self._escalations.labels(target).set(self._open_escalations[target])

    def escalations_open(self, counts_by_target: Mapping[str, int]) -> None:
        """Absolute counts (e.g. from storage at start-up); unmentioned targets are 0."""
        for target in counts_by_target:
            self._check("target", target, self._targets)
        with self._lock:
            for target in self._targets:
                self._open_escalations[target] = counts_by_target.get(target, 0)
                self._escalations.labels(target).set(self._open_escalations[target])

    def sip_registered(self, registered: bool) -> None:
        self._sip.set(1 if registered else 0)

    def watch_sip_socket(self, read: Callable[[], SipSocketView | None]) -> None:
        """Read the SIP socket's state at every scrape (bound, send errors, last datagram)."""
        self._sip_socket = read

    def _sip_socket_families(self, scrape: bool) -> list[Metric]:
        bound = GaugeMetricFamily("cti_sip_socket_bound", "1 while the SIP socket is bound")
        errors = CounterMetricFamily("cti_sip_send_errors", "SIP datagrams that could not be sent")
        reopened = CounterMetricFamily("cti_sip_socket_reopened", "Times the SIP socket was reopened")
        dropped = CounterMetricFamily(
            "cti_sip_datagrams_dropped",
            "SIP datagrams the kernel dropped because the socket's receive queue was full")
        last = GaugeMetricFamily("cti_sip_last_datagram_timestamp_seconds",
                                 "Unix time of the last datagram received on the SIP socket")
        refused = CounterMetricFamily("cti_sip_invites_refused",
                                      "INVITEs answered 503 by flood control", labels=["reason"])
        unrecorded = CounterMetricFamily(
            "cti_sip_refusals_unrecorded",
            "Refused INVITEs beyond the record budget (counted here, no call record)")
        media_up = GaugeMetricFamily("cti_media_up",
                                     "1 while every media worker (RTP, the audio clock) is up")
        late = CounterMetricFamily(
            "cti_media_late_ticks",
            "Times a leg's audio fell more than 60 ms behind its clock (frames dropped)")
        view = self._sip_socket() if scrape else None
        if view is not None:
            media_up.add_metric([], 1.0 if view.media == "ok" else 0.0)
            late.add_metric([], view.media_late_ticks)
            refused.add_metric(["rate"], view.invites_refused_rate)
            refused.add_metric(["capacity"], view.invites_refused_capacity)
            refused.add_metric(["saturated"], view.invites_refused_saturated)
            refused.add_metric(["rtp_ports"], view.invites_refused_rtp_ports)
            unrecorded.add_metric([], view.refusals_unrecorded)
            bound.add_metric([], 1.0 if view.bound else 0.0)
            errors.add_metric([], view.send_errors)
            reopened.add_metric([], view.reopened)
            dropped.add_metric([], view.datagrams_dropped)
            if view.last_datagram_at is not None:
                last.add_metric([], view.last_datagram_at)
        return [bound, errors, reopened, dropped, last, refused, unrecorded, media_up, late]

    def watch_ticket_queue(self, read: Callable[[], int]) -> None:
        """Read the number of call events waiting for the journal's fsync at every scrape."""
        self._ticket_queue = read

    def _ticket_queue_families(self, scrape: bool) -> list[Metric]:
        queued = GaugeMetricFamily("cti_ticket_write_queue",
                                   "Call events waiting to be written to the journal (bounded)")
        if scrape and self._ticket_queue is not None:
            queued.add_metric([], float(self._ticket_queue()))
        return [queued]

    def ticket_write_failed(self) -> None:
        self._ticket_errors.inc()

    def ticket_rejected(self) -> None:
        """A call record was set aside in ``<journal>.rejected`` (it can never be stored)."""
        self._tickets_rejected.inc()

    def month_to_date(self, count: int, now: dt.datetime) -> None:
        """Calls recorded so far this month (from storage); ``call_offered`` adds to it."""
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        at = local(now, self._tz)
        with self._lock:
            self._mtd = count
            self._mtd_month = (at.year, at.month)

    # -- internals ----------------------------------------------------------

    def _roll_month(self, now: dt.datetime) -> None:
        if self._mtd_month != (now.year, now.month):
            self._mtd = 0
            self._mtd_month = (now.year, now.month)

    def _count_today(self, now: dt.datetime, count: Callable[[DayTally], None]) -> None:
        """Today's figures count business hours only."""
        if not self.is_open(now):
            return
        with self._lock:
            self._today.roll(now.date())
            count(self._today)

    def today(self) -> list[TodayFigures]:
        """Today's offered / answered / abandoned / service level / ASA / AHT per service."""
        now = self._now()
        with self._lock:
            self._today.roll(now.date())
            return self._today.figures()

    def _days(self, year: int, month: int) -> tuple[dt.date, ...]:
        key = (year, month)
        if key not in self._business_days:
            self._business_days[key] = business_days_of(year, month, self._is_business_day)
        return self._business_days[key]

    # -- scrape-time metrics (prometheus_client Collector protocol) ---------

    def describe(self) -> list[Metric]:
        return [*self._scrape_families(None), *self._sip_socket_families(False),
                *self._ticket_queue_families(False)]

    def collect(self) -> list[Metric]:
        return [*self._scrape_families(self._now()), *self._sip_socket_families(True),
                *self._ticket_queue_families(True)]

    def _scrape_families(self, now: dt.datetime | None) -> Iterable[Metric]:
        mtd = GaugeMetricFamily("cti_calls_month_to_date", "Calls offered so far this month")
        base = GaugeMetricFamily("cti_calls_baseline_current_month", "Baseline for this month")
        expected = GaugeMetricFamily(
            "cti_calls_expected_to_date", "Calls the baseline expected by now this month")
        forecast = GaugeMetricFamily(
            "cti_calls_forecast_month", "Month-end projection of offered calls")
        open_now = GaugeMetricFamily("cti_business_hours", "1 during business hours")
        planned = GaugeMetricFamily(
            "cti_staffing_forecast", "Operators the monthly forecast needs this hour (all services)")
        rate = GaugeMetricFamily("cti_arrival_rate_per_hour",
                                 "Calls offered in the last hour", labels=["service"])  # fmt: skip
        recommended = GaugeMetricFamily(
            "cti_staffing_recommended",
            "Operators needed (Erlang C/A) for the current arrival rate and recent handle time",
            labels=["service"])  # fmt: skip
        longest = GaugeMetricFamily("cti_longest_wait_seconds", "Longest current wait",
                                    labels=["service"])  # fmt: skip
        service_level = GaugeMetricFamily(
            "cti_service_level_ratio",
            "Share of today's queued calls (business hours) answered within the threshold",
            labels=["service"])  # fmt: skip
        counts_today = GaugeMetricFamily(
            "cti_calls_today", "Today's calls in business hours (offered, answered, abandoned)",
            labels=["service", "kind"])  # fmt: skip
        means_today = GaugeMetricFamily(
            "cti_mean_seconds_today",
            "Today's average speed of answer (kind=answer) and handle time (kind=handle)",
            labels=["service", "kind"])  # fmt: skip
        families = (mtd, base, expected, forecast, open_now, planned, rate, recommended,
                    service_level, longest, counts_today, means_today)  # fmt: skip
        if now is None:
            return families
        with self._lock:
            self._roll_month(now)
            self._today.roll(now.date())
            today = self._today.figures()
            waits = {s: w + max(0.0, now.timestamp() - at) if at else 0.0
                     for s, (w, at) in self._longest_waits.items()}  # fmt: skip
            month_to_date = self._mtd
            arrivals = {s: self._recent(q, now.timestamp()) for s, q in self._arrivals.items()}
            ahts = {s: sum(h) / len(h) if h else self._default_aht for s, h in self._handles.items()}
        days = self._days(now.year, now.month)
        baseline = self._baseline[now.month - 1]
        elapsed = sum(elapsed_by_day(days, self._slots, now))
        projected, scale = project_month_end(month_to_date, baseline, elapsed, len(days))
        is_open = self.is_open(now)
        mtd.add_metric([], month_to_date)
        base.add_metric([], baseline)
        expected.add_metric([], baseline * elapsed / len(days) if days else 0.0)
        forecast.add_metric([], projected)
        open_now.add_metric([], 1.0 if is_open else 0.0)
        planned.add_metric([], self._planned(now, days, baseline * scale) if is_open else 0.0)
        for figures in today:
            if figures.service_level is not None:
                service_level.add_metric([figures.service], figures.service_level)
            for kind in ("offered", "answered", "abandoned"):
                counts_today.add_metric([figures.service, kind], getattr(figures, kind))
            for kind, mean in (("answer", figures.asa_seconds), ("handle", figures.aht_seconds)):
                if mean is not None:
                    means_today.add_metric([figures.service, kind], mean)
        for service, wait in waits.items():
            longest.add_metric([service], wait)
        for service in self._services:
            per_hour = arrivals[service] * 3600.0 / self._window
            rate.add_metric([service], per_hour)
            recommended.add_metric([service], self._recommended(service, per_hour, ahts[service]))
        return families

    def _recommended(self, service: str, per_hour: float, aht: float) -> float:
        """Operators for the live load; NaN (and a log line) when no staffing can serve it,
        so one absurd figure never fails the whole scrape."""
        try:
            return staffing(per_hour, aht, self._sl_target, self._threshold,
                            self._abandon_rate).operators  # fmt: skip
        except StaffingError as error:
            log.warning("metrics.staffing_unavailable", service=service, error=str(error))
            return math.nan

    def _recent(self, arrivals: deque[float], now_ts: float) -> int:
        while arrivals and arrivals[0] <= now_ts - self._window:
            arrivals.popleft()
        return len(arrivals)

    def _planned(self, now: dt.datetime, days: Sequence[dt.date], month_calls: float) -> float:
        slot = current_slot(self._slots, now.time())
        if slot is None or not days:
            return 0.0
        per_hour = month_calls / len(days) * slot.share / slot.hours
        need = self._recommended("all", per_hour, self._default_aht)
        return need if math.isnan(need) else max(1.0, need)
