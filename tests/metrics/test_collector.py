"""CtiMetrics on a fresh CollectorRegistry: names, labels, scrape-time gauges."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from cti.metrics import DEFAULT_BASELINE, CtiMetrics, UnknownLabelError, forecast_month, staffing

from .conftest import JST, SERVICES, MovableClock

ISSUE_METRICS = {
    "cti_calls",  # counter family of cti_calls_total
    "cti_calls_waiting",
    "cti_longest_wait_seconds",
    "cti_queue_wait_seconds",
    "cti_handle_seconds",
    "cti_operators",
    "cti_operators_available",
    "cti_service_level_ratio",
    "cti_calls_month_to_date",
    "cti_calls_baseline",
    "cti_calls_forecast_month",
    "cti_staffing_recommended",
    "cti_escalations_open",
    "cti_sip_registered",
    "cti_tickets_write_errors",
}


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_every_metric_of_the_issue_is_exposed(
    metrics: CtiMetrics, registry: CollectorRegistry
) -> None:
    metrics.call_answered("portal", 3.0)  # the service-level gauge appears with data
    families = {f.name for f in text_string_to_metric_families(generate_latest(registry).decode())}
    assert ISSUE_METRICS <= families
    assert value(registry, "cti_tickets_write_errors_total") == 0.0


def test_calls_by_outcome_and_offered(metrics: CtiMetrics, registry: CollectorRegistry) -> None:
    metrics.call_offered("isolation")
    metrics.call_offered("isolation")
    metrics.call_ended("isolation", "ended")
    metrics.call_ended("isolation", "abandoned")
    assert value(registry, "cti_calls_offered_total", service="isolation") == 2
    assert value(registry, "cti_calls_total", service="isolation", outcome="ended") == 1
    assert value(registry, "cti_calls_total", service="isolation", outcome="abandoned") == 1
    assert value(registry, "cti_calls_total", service="portal", outcome="ended") == 0


def test_unbounded_label_values_are_refused(metrics: CtiMetrics) -> None:
    with pytest.raises(UnknownLabelError):
        metrics.call_offered("0312345678")
    with pytest.raises(UnknownLabelError):
        metrics.call_ended("portal", "ticket-4711")
    with pytest.raises(UnknownLabelError):
        metrics.operators_changed({"dancing": 1}, {})
    with pytest.raises(UnknownLabelError):
        metrics.escalation_opened("someone@example.invalid")


def test_queue_and_histograms(metrics: CtiMetrics, registry: CollectorRegistry) -> None:
    metrics.queue_changed("skysea", 3, 42.5)
    metrics.call_answered("skysea", 12.0)
    metrics.call_answered("skysea", 25.0)
    metrics.call_finished("skysea", 310.0)
    assert value(registry, "cti_calls_waiting", service="skysea") == 3
    assert value(registry, "cti_longest_wait_seconds", service="skysea") == 42.5
    assert value(registry, "cti_longest_wait_seconds", service="portal") == 0
    assert value(registry, "cti_queue_wait_seconds_count", service="skysea") == 2
    assert value(registry, "cti_queue_wait_seconds_bucket", service="skysea", le="20.0") == 1
    assert value(registry, "cti_handle_seconds_sum", service="skysea") == 310.0


def test_operators_are_absolute_counts(metrics: CtiMetrics, registry: CollectorRegistry) -> None:
    metrics.operators_changed({"available": 2, "on_call": 1}, {"isolation": 2, "portal": 1})
    metrics.operators_changed({"available": 1, "on_call": 2}, {"isolation": 1})
    assert value(registry, "cti_operators", state="available") == 1
    assert value(registry, "cti_operators", state="on_call") == 2
    assert value(registry, "cti_operators", state="offline") == 0
    assert value(registry, "cti_operators_available", service="isolation") == 1
    assert value(registry, "cti_operators_available", service="portal") == 0


def test_service_level_counts_business_hours_only_and_resets_daily(
    metrics: CtiMetrics, registry: CollectorRegistry, metrics_clock: MovableClock
) -> None:
    metrics.call_answered("portal", 5.0)
    metrics.call_answered("portal", 19.9)
    metrics.call_answered("portal", 45.0)
    metrics.call_ended("portal", "abandoned")
    metrics.call_ended("portal", "abandoned", in_queue=False)  # hung up in the IVR: not counted
    assert value(registry, "cti_service_level_ratio", service="portal") == pytest.approx(2 / 4)
    metrics_clock.advance(hours=9)  # 19:00, closed: not counted
    metrics.call_answered("portal", 500.0)
    assert value(registry, "cti_service_level_ratio", service="portal") == pytest.approx(2 / 4)
    metrics_clock.advance(days=3, hours=-9)  # Monday 10:00: a new day starts from scratch
    assert value(registry, "cti_service_level_ratio", service="portal") is None  # before any call
    metrics.call_answered("isolation", 1.0)
    assert value(registry, "cti_service_level_ratio", service="portal") is None
    assert value(registry, "cti_service_level_ratio", service="isolation") == 1.0


def test_escalations_sip_and_ticket_errors(metrics: CtiMetrics, registry: CollectorRegistry) -> None:
    metrics.escalation_opened("vendor")
    metrics.escalation_opened("vendor")
    metrics.escalation_closed("vendor")
    assert value(registry, "cti_escalations_open", target="vendor") == 1
    with capture_logs() as logs:
        metrics.escalation_closed("city")
    assert value(registry, "cti_escalations_open", target="city") == 0
    assert [e["event"] for e in logs] == ["metrics.escalation_close_without_open"]
    metrics.sip_registered(True)
    assert value(registry, "cti_sip_registered") == 1
    metrics.sip_registered(False)
    assert value(registry, "cti_sip_registered") == 0
    metrics.ticket_write_failed()
    metrics.ticket_write_failed()
    assert value(registry, "cti_tickets_write_errors_total") == 2


def test_baseline_by_month(metrics: CtiMetrics, registry: CollectorRegistry) -> None:
    for month, count in enumerate(DEFAULT_BASELINE, start=1):
        assert value(registry, "cti_calls_baseline", month=f"{month:02d}") == count
    assert value(registry, "cti_calls_baseline_current_month") == DEFAULT_BASELINE[3]


def test_month_to_date_and_forecast_follow_the_forecast_module(
    metrics: CtiMetrics,
    registry: CollectorRegistry,
    metrics_clock: MovableClock,
    is_business_day: Callable[[dt.date], bool],
) -> None:
    metrics.month_to_date(290, metrics_clock.now)
    for _ in range(10):
        metrics.call_offered("licenses")
    assert value(registry, "cti_calls_month_to_date") == 300
    expected = forecast_month(2027, 4, is_business_day=is_business_day, month_to_date=300,
                              now=metrics_clock.now)  # fmt: skip
    assert value(registry, "cti_calls_forecast_month") == pytest.approx(expected.projected_calls)
    elapsed = expected.business_days_elapsed / len(expected.business_days)
    assert value(registry, "cti_calls_expected_to_date") == pytest.approx(705 * elapsed)
    metrics_clock.now = dt.datetime(2027, 5, 6, 9, 30, tzinfo=JST)  # May: a new month
    assert value(registry, "cti_calls_month_to_date") == 0
    metrics.call_offered("licenses")
    assert value(registry, "cti_calls_month_to_date") == 1
    assert value(registry, "cti_calls_baseline_current_month") == DEFAULT_BASELINE[4]


def test_staffing_uses_the_last_hour_of_arrivals_and_recent_handle_time(
    metrics: CtiMetrics, registry: CollectorRegistry, metrics_clock: MovableClock
) -> None:
    for _ in range(12):
        metrics.call_offered("isolation")
        metrics_clock.advance(minutes=4)
    for handle in (200.0, 400.0, 600.0):
        metrics.call_finished("isolation", handle)
    assert value(registry, "cti_arrival_rate_per_hour", service="isolation") == 12
    need = staffing(12, 400.0, 0.8, 20.0).operators
    assert need >= 2
    assert value(registry, "cti_staffing_recommended", service="isolation") == need
    assert value(registry, "cti_staffing_recommended", service="portal") == 0
    metrics_clock.advance(minutes=30)  # half the arrivals leave the one-hour window
    rate = value(registry, "cti_arrival_rate_per_hour", service="isolation")
    assert rate is not None and 0 < rate < 12
    metrics_clock.advance(hours=2)
    assert value(registry, "cti_arrival_rate_per_hour", service="isolation") == 0


def test_business_hours_and_the_planned_staffing(
    metrics: CtiMetrics, registry: CollectorRegistry, metrics_clock: MovableClock
) -> None:
    assert value(registry, "cti_business_hours") == 1
    planned = value(registry, "cti_staffing_forecast")
    assert planned is not None and planned >= 1
    metrics_clock.now = dt.datetime(2027, 4, 29, 10, 0, tzinfo=JST)  # Showa Day
    assert value(registry, "cti_business_hours") == 0
    assert value(registry, "cti_staffing_forecast") == 0
    metrics_clock.now = dt.datetime(2027, 4, 30, 8, 44, tzinfo=JST)  # one minute before opening
    assert value(registry, "cti_business_hours") == 0


def test_two_instances_share_nothing(is_business_day: Callable[[dt.date], bool]) -> None:
    made = []
    for _ in range(2):
        registry = CollectorRegistry()
        made.append((registry, CtiMetrics(registry, baseline=DEFAULT_BASELINE, services=SERVICES,
                                          service_level_threshold_s=20,
                                          is_business_day=is_business_day)))  # fmt: skip
    made[0][1].ticket_write_failed()
    assert value(made[0][0], "cti_tickets_write_errors_total") == 1
    assert value(made[1][0], "cti_tickets_write_errors_total") == 0


def test_threshold_is_a_histogram_bucket(is_business_day: Callable[[dt.date], bool]) -> None:
    registry = CollectorRegistry()
    metrics = CtiMetrics(registry, baseline=DEFAULT_BASELINE, services=SERVICES,
                         service_level_threshold_s=25, is_business_day=is_business_day)  # fmt: skip
    metrics.call_answered("other", 24.0)
    assert value(registry, "cti_queue_wait_seconds_bucket", service="other", le="25.0") == 1


def test_an_impossible_load_never_fails_the_scrape(
    metrics: CtiMetrics, registry: CollectorRegistry
) -> None:
    for _ in range(3_000):  # 3,000 calls in the last hour at 420 s: ~350 Erlangs on one service
        metrics.call_offered("telework")
    metrics.call_finished("telework", 3_000.0)  # ...and each now takes 50 minutes: > 500 operators
    with capture_logs() as logs:
        text = generate_latest(registry).decode()
    assert 'cti_staffing_recommended{service="telework"} NaN' in text
    assert 'cti_staffing_recommended{service="portal"} 0.0' in text
    assert "metrics.staffing_unavailable" in {e["event"] for e in logs}


def test_business_hours_can_come_from_the_calendar(
    is_business_day: Callable[[dt.date], bool], metrics_clock: MovableClock
) -> None:
    registry = CollectorRegistry()
    forced_closed = CtiMetrics(registry, baseline=DEFAULT_BASELINE, services=SERVICES,
                               service_level_threshold_s=20, is_business_day=is_business_day,
                               clock=metrics_clock, is_open_at=lambda _at: False)  # fmt: skip
    forced_closed.call_answered("portal", 90.0)
    assert value(registry, "cti_business_hours") == 0
    assert value(registry, "cti_service_level_ratio", service="portal") is None


def test_longest_wait_grows_between_queue_reports(
    metrics: CtiMetrics, registry: CollectorRegistry, metrics_clock: MovableClock
) -> None:
    metrics.queue_changed("licenses", 1, 10.0)
    metrics_clock.advance(seconds=95)  # nobody answered, no queue event
    assert value(registry, "cti_longest_wait_seconds", service="licenses") == pytest.approx(105.0)
    metrics.queue_changed("licenses", 0, 0.0)
    metrics_clock.advance(seconds=60)
    assert value(registry, "cti_longest_wait_seconds", service="licenses") == 0
