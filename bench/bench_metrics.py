"""Figures for cti.metrics: event-method cost, scrape cost, staffing and forecast latency.

Run: .venv/bin/python bench/bench_metrics.py
Bounded: every loop has a fixed count; prints figures, asserts nothing.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable

import holidays
from prometheus_client import CollectorRegistry, generate_latest

from cti.metrics import DEFAULT_BASELINE, CtiMetrics, forecast_month, staffing

JST = dt.timezone(dt.timedelta(hours=9))
SERVICES = ("isolation", "skysea", "portal", "licenses", "telework", "other")


def per_call_us(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        samples.append((time.perf_counter() - start) / repeat * 1e6)
    return statistics.median(samples), min(samples)


def main() -> None:
    national = holidays.Japan()

    def is_business_day(day: dt.date) -> bool:
        return day.weekday() < 5 and day not in national

    now = dt.datetime(2027, 4, 9, 10, 0, tzinfo=JST)
    registry = CollectorRegistry()
    metrics = CtiMetrics(registry, baseline=DEFAULT_BASELINE, services=SERVICES,
                         service_level_threshold_s=20, is_business_day=is_business_day,
                         clock=lambda: now)  # fmt: skip
    metrics.month_to_date(300, now)
    print("CtiMetrics event methods (median / best of 5 runs, microseconds per call)")
    for name, fn in [
        ("call_offered", lambda: metrics.call_offered("isolation")),
        ("call_answered", lambda: metrics.call_answered("portal", 12.0)),
        ("call_ended", lambda: metrics.call_ended("skysea", "ended")),
        ("call_finished", lambda: metrics.call_finished("skysea", 300.0)),
        ("queue_changed", lambda: metrics.queue_changed("isolation", 2, 30.0)),
        ("operators_changed", lambda: metrics.operators_changed({"available": 2}, {"portal": 2})),
    ]:
        median, best = per_call_us(fn, 2_000)
        print(f"  {name:18s} {median:8.1f} {best:8.1f}")
    # Scrape a registry with a realistic hour: 40 calls spread over the services.
    scraped = CollectorRegistry()
    live = CtiMetrics(scraped, baseline=DEFAULT_BASELINE, services=SERVICES,
                      service_level_threshold_s=20, is_business_day=is_business_day,
                      clock=lambda: now)  # fmt: skip
    for i in range(40):
        service = SERVICES[i % len(SERVICES)]
        live.call_offered(service)
        live.call_answered(service, float(i % 30))
        live.call_finished(service, 240.0 + i)
    median, best = per_call_us(lambda: generate_latest(scraped), 50)
    size = len(generate_latest(scraped))
    print(f"scrape (generate_latest, {size} bytes): {median / 1000:.2f} ms median, "
          f"{best / 1000:.2f} ms best")  # fmt: skip

    print("staffing() latency, ms (Erlang C / Erlang A with mean patience 120 s)")
    for calls, aht in [(6, 420), (60, 420), (600, 300), (6000, 240)]:

        def erlang_c(c: int = calls, a: int = aht) -> object:
            return staffing(c, a, 0.8, 20)

        def erlang_a(c: int = calls, a: int = aht) -> object:
            return staffing(c, a, 0.8, 20, 1 / 120)

        c_med, _ = per_call_us(erlang_c, 3)
        a_med, _ = per_call_us(erlang_a, 3)
        n_c = staffing(calls, aht, 0.8, 20).operators
        n_a = staffing(calls, aht, 0.8, 20, 1 / 120).operators
        print(f"  {calls:5d} calls/h AHT {aht}s: C {n_c:3d} ops {c_med / 1000:7.2f} ms | "
              f"A {n_a:3d} ops {a_med / 1000:7.2f} ms")  # fmt: skip

    median, _ = per_call_us(lambda: forecast_month(2027, 4, is_business_day=is_business_day,
                                                   month_to_date=300, now=now), 5)  # fmt: skip
    print(f"forecast_month(2027-04, Erlang C): {median / 1000:.2f} ms")
    median, _ = per_call_us(lambda: forecast_month(2027, 4, is_business_day=is_business_day,
                                                   abandon_rate=1 / 120), 5)  # fmt: skip
    print(f"forecast_month(2027-04, Erlang A): {median / 1000:.2f} ms")


if __name__ == "__main__":
    main()
