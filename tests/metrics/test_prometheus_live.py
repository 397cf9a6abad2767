"""A real Prometheus (Debian `prometheus`) scrapes CtiMetrics on loopback and evaluates every
expression of the dashboards and rules."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, start_http_server
from tests_support import Prometheus, running_prometheus, wait_for

from cti.ha.node import LeaseStore, Node
from cti.ha.wiring import node_gauge
from cti.metrics import CtiMetrics
from cti.metrics.dashboards import dashboards, panel_queries, render
from cti.metrics.rules import all_expressions, rule_groups
from cti.reports.schedule import ReportMetrics
from cti.sip.control import SocketHealth

from .conftest import MovableClock


def _Standby() -> LeaseStore:  # a lease store that is never asked (the node stays standby)
    async def never(*args: object) -> object:
        raise AssertionError("not asked")

    return LeaseStore(take=never, renew=never, release=never)  # type: ignore[arg-type]


@pytest.fixture
def served_metrics(metrics: CtiMetrics, registry: CollectorRegistry) -> Iterator[tuple[CtiMetrics, int]]:
    # The monthly-report schedule registers its own series on the service's registry; failing.
    ReportMetrics(registry).failing.set(1)
    # An HA node that is the standby: no node active (CtiActiveNodesNotOne returns a series).
    node_gauge(registry, Node("b", _Standby(), lease_s=3.0, renew_s=0.5, monotonic=lambda: 0.0))
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        yield metrics, int(server.server_port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def prometheus(served_metrics: tuple[CtiMetrics, int], tmp_path: Path) -> Iterator[Prometheus]:
    _, target_port = served_metrics
    with running_prometheus(f"127.0.0.1:{target_port}", tmp_path) as server:
        yield server


def _drive(metrics: CtiMetrics, clock: MovableClock) -> None:
    """An April outage storm at 10:00 on a business day: every alert condition holds."""
    metrics.month_to_date(900, clock.now)
    for service, waits in {"isolation": (5.0, 45.0, 80.0, 150.0), "portal": (3.0, 9.0)}.items():
        for wait in waits:
            metrics.call_offered(service)
            metrics.call_answered(service, wait)
            metrics.call_ended(service, "ended")
            metrics.call_finished(service, 240.0 + wait)
    metrics.call_offered("isolation")
    metrics.call_ended("isolation", "abandoned")
    metrics.queue_changed("isolation", 6, 150.0)
    metrics.operators_changed({"available": 0, "on_call": 2, "offline": 3}, {"isolation": 0})
    metrics.escalation_opened("vendor")
    metrics.sip_registered(False)
    metrics.ticket_write_failed()
    refusals = itertools.count(1)  # callers refused for saturation: more at every scrape
    metrics.watch_sip_socket(lambda: SocketHealth(  # a media worker that cannot restart
        bound=True, local="127.0.0.1:5060", datagrams_received=0, last_datagram_at=None,
        send_errors=0, last_send_error="", reopened=0, media="error: media worker 0 down",
        invites_refused_saturated=next(refusals)))


def test_every_dashboard_and_rule_expression_runs_on_real_prometheus(
    prometheus: Prometheus, served_metrics: tuple[CtiMetrics, int], metrics_clock: MovableClock
) -> None:
    metrics, _ = served_metrics
    # First scrape with every counter at zero, so increase() and rate() see the change.
    wait_for("the first scrape", lambda: bool(prometheus.series(
        'cti_tickets_write_errors_total{job="cti"} == 0')))  # fmt: skip
    _drive(metrics, metrics_clock)
    wait_for("the driven state to be scraped", lambda: bool(prometheus.series(
        "cti_tickets_write_errors_total == 1 and on () sum(cti_calls_waiting) == 6")))  # fmt: skip

    panel_exprs = [
        (f"{name}: {title}", expr, target.get("legendFormat", ""))
        for name, model in dashboards().items()
        for title, expr, target in _with_targets(json.loads(render(model)))
    ]
    rule_exprs = [(name, expr, "") for name, expr in all_expressions(rule_groups())]
    everything = panel_exprs + rule_exprs

    for where, expr, _ in everything:
        answer = prometheus.query(expr)
        assert answer.get("status") == "success", f"{where}: {expr!r} -> {answer}"

    # Recording rules and the second scrape take a moment: wait until each returns series.
    def empty() -> list[str]:
        return [f"{where}: {expr}" for where, expr, _ in everything if not prometheus.series(expr)]

    wait_for("every expression to return series", lambda: not empty(), detail=empty)

    for where, expr, legend in everything:
        for label in _legend_labels(legend):
            for series in prometheus.series(expr):
                assert label in series["metric"], f"{where}: {expr!r} lacks {label}: {series}"

    # Spot-check values against what was driven (recording rules catch up within a second).
    expected = {
        "sum(cti_calls_waiting)": 6.0,
        "max(cti_longest_wait_seconds)": 150.0,
        "cti_calls_month_to_date": 900.0 + 7,
        'cti_service_level_ratio{service="isolation"}': 1 / 5,
        "cti:calls_baseline:max": 705.0,
        "cti:operators_logged_in:sum": 2.0,
        'cti_calls_total{service="isolation", outcome="abandoned"}': 1.0,
    }

    def mismatched() -> dict[str, list[float]]:
        actual = {expr: [float(s["value"][1]) for s in prometheus.series(expr)] for expr in expected}
        return {e: v for e, v in actual.items() if v != [pytest.approx(expected[e])]}

    wait_for("the driven values", lambda: not mismatched(), detail=mismatched)
    assert _value(prometheus, "cti_calls_forecast_month") > 705

    def evaluated() -> dict[str, dict[str, Any]]:
        groups = prometheus.get("/api/v1/rules")["data"]["groups"]
        return {r["name"]: r for group in groups for r in group["rules"]}

    def quiet_alerts() -> dict[str, str]:
        return {name: rule["state"] for name, rule in evaluated().items()
                if rule["type"] == "alerting" and rule["state"] not in {"pending", "firing"}}

    # Each alert turns pending at its group's first evaluation after the driven scrape.
    wait_for("every alert to be pending or firing", lambda: not quiet_alerts(), detail=quiet_alerts)
    rules = evaluated()
    assert set(rules) == {name for name, _, _ in rule_exprs}
    for name, rule in rules.items():
        assert rule["health"] == "ok", f"{name}: {rule.get('lastError')}"


def _with_targets(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    seen = list(panel_queries(document))
    targets = [t for p in document["panels"] for t in p.get("targets", []) if "expr" in t]
    assert len(seen) == len(targets)
    for (title, expr), target in zip(seen, targets, strict=True):
        yield title, expr, target


def _legend_labels(legend: str) -> list[str]:
    out = []
    rest = legend
    while "{{" in rest:
        start = rest.index("{{") + 2
        end = rest.index("}}", start)
        out.append(rest[start:end].strip())
        rest = rest[end + 2 :]
    return out


def _value(prometheus: Prometheus, expr: str) -> float:
    series = prometheus.series(expr)
    assert len(series) == 1, f"{expr}: {series}"
    return float(series[0]["value"][1])
