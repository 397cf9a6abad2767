"""Prometheus recording and alert rules, generated from code.

``python -m cti.metrics.rules`` writes ``config/prometheus/rules.yml``; a test
checks that the committed file equals a fresh render, promtool unit-tests it
(``config/prometheus/tests/``) and a real Prometheus evaluates every
expression.  Thresholds are ``AlertThresholds`` fields so the numbers in the
YAML, the dashboards and the tests come from one place.

The YAML is written by hand (no YAML library needed): every string is a
JSON string literal, which YAML reads as a double-quoted scalar.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class AlertThresholds:
    calls_waiting: int = 5
    calls_waiting_for: str = "5m"
    longest_wait_seconds: float = 120.0
    longest_wait_for: str = "1m"
    service_level_target: float = 0.8
    service_level_for: str = "15m"
    forecast_for: str = "30m"
    sip_for: str = "1m"
    ticket_errors_window: str = "10m"
    report_failing_for: str = "0m"
    active_nodes_for: str = "30s"  # HA pair: longer than a failover (a few seconds)
    media_down_for: str = "1m"  # a media worker restarts in under a second; down longer is stuck
    refused_window: str = "10m"  # callers refused with 503 because the service is full


@dataclass(frozen=True, slots=True)
class RecordingRule:
    record: str
    expr: str


@dataclass(frozen=True, slots=True)
class AlertRule:
    alert: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    labels: tuple[tuple[str, str], ...] = field(default=())


@dataclass(frozen=True, slots=True)
class RuleGroup:
    name: str
    rules: tuple[RecordingRule | AlertRule, ...]
    interval: str | None = None


# Recording rule names, used by the dashboards too.
OFFERED_PER_HOUR = "service:cti_calls_offered:per_hour_1h"
QUEUE_WAIT_P90 = "service:cti_queue_wait_seconds:p90_15m"
HANDLE_MEAN_1H = "service:cti_handle_seconds:mean_1h"
LOGGED_IN = "cti:operators_logged_in:sum"
RECOMMENDED = "cti:staffing_recommended:sum"
PEAK_BASELINE = "cti:calls_baseline:max"
FORECAST_VS_PEAK = "cti:calls_forecast_month:peak_ratio"


def recording_rules() -> tuple[RecordingRule, ...]:
    return (
        RecordingRule(
            OFFERED_PER_HOUR, "sum by (service) (increase(cti_calls_offered_total[1h]))"
        ),
        RecordingRule(
            QUEUE_WAIT_P90,
            "histogram_quantile(0.9, sum by (service, le) "
            "(rate(cti_queue_wait_seconds_bucket[15m])))",
        ),
        RecordingRule(
            HANDLE_MEAN_1H,
            "sum by (service) (rate(cti_handle_seconds_sum[1h]))"
            " / sum by (service) (rate(cti_handle_seconds_count[1h]))",
        ),
        RecordingRule(LOGGED_IN, 'sum(cti_operators{state!="offline"})'),
        RecordingRule(RECOMMENDED, "sum(cti_staffing_recommended)"),
        RecordingRule(PEAK_BASELINE, "max(cti_calls_baseline)"),
        RecordingRule(
            FORECAST_VS_PEAK, "cti_calls_forecast_month / on () max(cti_calls_baseline)"
        ),
    )


def alert_rules(t: AlertThresholds) -> tuple[AlertRule, ...]:
    return (
        AlertRule(
            "CtiCallsWaitingHigh",
            f"sum(cti_calls_waiting) > {t.calls_waiting}",
            t.calls_waiting_for,
            "warning",
            "待ち呼が多い / Many callers waiting",
            f"{{{{ $value }}}} 件待ち / callers waiting for over {t.calls_waiting_for}"
            f" (閾値 / threshold {t.calls_waiting}).",
        ),
        AlertRule(
            "CtiLongestWaitOverTarget",
            f"max by (service) (cti_longest_wait_seconds) > {t.longest_wait_seconds:g}",
            t.longest_wait_for,
            "warning",
            "待ち時間が目標超過 / Longest wait over target",
            "{{ $labels.service }}: 最長待ち / longest wait {{ $value }} s"
            f" (目標 / target {t.longest_wait_seconds:g} s).",
        ),
        AlertRule(
            "CtiServiceLevelLow",
            f"cti_service_level_ratio < {t.service_level_target:g}"
            " and on () cti_business_hours == 1",
            t.service_level_for,
            "warning",
            "応答率が目標未満 / Service level below target",
            "{{ $labels.service }}: 応答率 / service level {{ $value | humanizePercentage }}"
            f" (目標 / target {t.service_level_target:.0%}).",
        ),
        AlertRule(
            "CtiForecastAboveAprilPeak",
            "cti_calls_forecast_month > on () max(cti_calls_baseline)",
            t.forecast_for,
            "info",
            "月末予測が4月ピーク超 / Month forecast above the April peak",
            "月末予測 / projected {{ $value | printf \"%.0f\" }} 件 calls"
            " > 4月ピーク / April peak.",
        ),
        AlertRule(
            "CtiSipUnregistered",
            "cti_sip_registered == 0",
            t.sip_for,
            "critical",
            "SIP登録喪失 / SIP registration lost",
            "SIPトランクが未登録 / The SIP trunk is not registered; calls cannot reach us.",
        ),
        AlertRule(
            "CtiTicketWriteErrors",
            f"increase(cti_tickets_write_errors_total[{t.ticket_errors_window}]) > 0",
            "0m",
            "critical",
            "チケット書込失敗 / Ticket writes failing",
            f"{{{{ $value }}}} 件失敗 / failed writes in {t.ticket_errors_window}.",
        ),
        AlertRule(
            "CtiMonthlyReportFailing",
            "cti_reports_failing == 1",
            t.report_failing_for,
            "critical",
            "月次報告書類の作成・送付失敗 / Monthly reports not built or not mailed",
            "月次報告書類（対応履歴票・月次報告書・業務完了届）の自動作成またはメール送付が失敗しています。"
            " / The automatic monthly set failed to build or to mail; see reports.* log lines"
            " and `cti report --month`.",
        ),
        AlertRule(
            "CtiActiveNodesNotOne",
            "sum(cti_node_active) != 1",
            t.active_nodes_for,
            "critical",
            "稼働ノードが1台でない / Not exactly one active cti node",
            "稼働ノード数 / active nodes: {{ $value }} (期待値 / expected 1). 0: 着信に応答なし /"
            " the number is not answered; 2: check node ids and the lease (`cti ha status`).",
        ),
        AlertRule(
            "CtiMediaDown",
            "min(cti_media_up) == 0",
            t.media_down_for,
            "critical",
            "音声処理プロセス停止 / Media worker down",
            "音声処理プロセスが再起動できていません。新しい着信は 503 で断られます。 / A media worker"
            " cannot be restarted; new calls get 503. See sip.media.* log lines.",
        ),
        AlertRule(
            "CtiCallersRefused",
            "sum(increase(cti_sip_invites_refused_total"
            f'{{reason=~"capacity|saturated|rtp_ports"}}[{t.refused_window}])) > 0',
            "0m",
            "warning",
            "着信を断っています（満杯・過負荷） / Callers refused: the service is full",
            f"直近 {t.refused_window} に {{{{ $value }}}} 件の着信を 503 で断りました（通話記録あり）。"
            f" / {{{{ $value }}}} callers refused with 503 in the last {t.refused_window} (each"
            " has a call record, outcome refused). See cti_sip_datagrams_dropped_total and"
            " sip.invite_refused_flood log lines.",
        ),
    )


def rule_groups(thresholds: AlertThresholds | None = None) -> tuple[RuleGroup, ...]:
    t = thresholds or AlertThresholds()
    return (
        RuleGroup("cti_recording", recording_rules()),
        RuleGroup("cti_alerts", alert_rules(t)),
    )


def all_expressions(groups: Sequence[RuleGroup]) -> list[tuple[str, str]]:
    """``(rule name, expr)`` for every rule."""
    return [
        (rule.record if isinstance(rule, RecordingRule) else rule.alert, rule.expr)
        for group in groups
        for rule in group.rules
    ]


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def render_rules_yaml(groups: Sequence[RuleGroup]) -> str:
    out = [
        "# Generated by `python -m cti.metrics.rules`; do not edit by hand.",
        "groups:",
    ]
    for group in groups:
        out.append(f"  - name: {_q(group.name)}")
        if group.interval:
            out.append(f"    interval: {_q(group.interval)}")
        out.append("    rules:")
        for rule in group.rules:
            if isinstance(rule, RecordingRule):
                out.append(f"      - record: {_q(rule.record)}")
                out.append(f"        expr: {_q(rule.expr)}")
                continue
            out.append(f"      - alert: {_q(rule.alert)}")
            out.append(f"        expr: {_q(rule.expr)}")
            out.append(f"        for: {_q(rule.for_)}")
            out.append("        labels:")
            out.append(f"          severity: {_q(rule.severity)}")
            for key, value in rule.labels:
                out.append(f"          {key}: {_q(value)}")
            out.append("        annotations:")
            out.append(f"          summary: {_q(rule.summary)}")
            out.append(f"          description: {_q(rule.description)}")
    return "\n".join(out) + "\n"


def default_rules_path() -> Path:
    import cti.config

    return Path(cti.config.__file__).parent / "prometheus" / "rules.yml"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    path = Path(args[0]) if args else default_rules_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_rules_yaml(rule_groups()), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
