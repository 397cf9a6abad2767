"""Grafana dashboards, generated with grafana-foundation-sdk.

``python -m cti.metrics.dashboards [DIR]`` writes ``config/grafana/dashboards/*.json``
(provisioned by ``config/grafana/provisioning/``).  A test checks that the committed
JSON equals a fresh render and a real Prometheus evaluates every panel's query.

Queries are plain PromQL with no Grafana macros (no ``$__rate_interval``) so
that each one can be checked against Prometheus verbatim.  Panel titles are
Japanese first, English second.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import bargauge, common, stat, timeseries
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_model
from grafana_foundation_sdk.models import dashboard as dash_model

from cti.metrics.forecast import DEFAULT_BASELINE
from cti.metrics.rules import (
    HANDLE_MEAN_1H,
    LOGGED_IN,
    OFFERED_PER_HOUR,
    PEAK_BASELINE,
    QUEUE_WAIT_P90,
    RECOMMENDED,
    AlertThresholds,
)

DATASOURCE_UID = "cti-prometheus"
DATASOURCE = dash_model.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
TAGS = ["cti", "helpdesk"]
TIMEZONE = "Asia/Tokyo"

Query = tuple[str, str]  # (expr, legend)


def _targets(queries: Sequence[Query], *, instant: bool = False) -> list[prom.Dataquery]:
    built = []
    for ref, (expr, legend) in zip("ABCDEFGH", queries, strict=False):
        query = prom.Dataquery().expr(expr).legend_format(legend).ref_id(ref)
        built.append(query.instant() if instant else query.range())
    return built


def _thresholds(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    return (
        dash.ThresholdsConfig()
        .mode(dash_model.ThresholdsMode.ABSOLUTE)
        .steps([dash_model.Threshold(value=v, color=c) for v, c in steps])
    )


def _series(
    title: str, unit: str, queries: Sequence[Query], *, width: int = 12, height: int = 8
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(width)
        .height(height)
        .legend(common.VizLegendOptions().show_legend(True).display_mode(
            common_model.LegendDisplayMode.LIST).placement(common_model.LegendPlacement.BOTTOM))
    )
    for target in _targets(queries):
        panel = panel.with_target(target)
    return panel


def _hourly_bars(
    title: str, queries: Sequence[Query], *, width: int = 24, height: int = 9
) -> timeseries.Panel:
    return (
        _series(title, "short", queries, width=width, height=height)
        .draw_style(common_model.GraphDrawStyle.BARS)
        .fill_opacity(60)
        .interval("1h")
        .min(0)
    )


def _stat(
    title: str,
    unit: str,
    queries: Sequence[Query],
    thresholds: dash.ThresholdsConfig,
    *,
    width: int = 6,
    height: int = 5,
) -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(width)
        .height(height)
        .thresholds(thresholds)
        .color_mode(common_model.BigValueColorMode.BACKGROUND)
        .graph_mode(common_model.BigValueGraphMode.AREA)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    for target in _targets(queries, instant=True):
        panel = panel.with_target(target)
    return panel


def _base(uid: str, title: str, time_from: str, time_to: str = "now") -> dash.Dashboard:
    return (
        dash.Dashboard(title)
        .uid(uid)
        .tags(TAGS)
        .timezone(TIMEZONE)
        .refresh("30s")
        .time(time_from, time_to)
        .readonly()
    )


def queue_now(t: AlertThresholds) -> dash.Dashboard:
    sl = t.service_level_target
    return (
        _base("cti-queue-now", "待ち状況 / Queue now", "now-6h")
        .with_panel(_stat("待ち呼数 / Calls waiting", "short",
                          [("sum(cti_calls_waiting)", "待ち / waiting")],
                          _thresholds((None, "green"), (t.calls_waiting, "orange"),
                                      (2 * t.calls_waiting, "red"))))
        .with_panel(_stat("最長待ち / Longest wait", "s",
                          [("max(cti_longest_wait_seconds)", "最長 / longest")],
                          _thresholds((None, "green"), (t.longest_wait_seconds / 2, "orange"),
                                      (t.longest_wait_seconds, "red"))))
        .with_panel(_stat("待機中オペレーター / Operators available", "short",
                          [('sum(cti_operators{state="available"})', "待機 / available")],
                          _thresholds((None, "red"), (1, "green"))))
        .with_panel(_stat("SIP登録 / SIP registered", "short",
                          [("cti_sip_registered", "SIP")],
                          _thresholds((None, "red"), (1, "green"))))
        .with_panel(_series("サービス別 待ち呼数 / Calls waiting by service", "short",
                            [("cti_calls_waiting", "{{service}}")]))
        .with_panel(_series("サービス別 最長待ち / Longest wait by service", "s",
                            [("cti_longest_wait_seconds", "{{service}}"),
                             (QUEUE_WAIT_P90, "p90 {{service}}")]))
        .with_panel(
            _series("状態別オペレーター / Operators by state", "short",
                    [("sum by (state) (cti_operators)", "{{state}}")])
            .stacking(common.StackingConfig().mode(common_model.StackingMode.NORMAL))
        )
        .with_panel(
            _series("応答率 (営業時間, 本日) / Service level (business hours, today)",
                    "percentunit", [("cti_service_level_ratio", "{{service}}")])
            .min(0).max(1)
            .thresholds(_thresholds((None, "red"), (sl, "green")))
            .thresholds_style(common.GraphThresholdsStyleConfig().mode(
                common_model.GraphTresholdsStyleMode.LINE))
        )
        .with_panel(_series("サービス別 待機オペレーター / Available operators by service",
                            "short", [("cti_operators_available", "{{service}}")]))
        .with_panel(_series("未解決エスカレーション / Open escalations", "short",
                            [("cti_escalations_open", "{{target}}")]))
        .with_panel(_series("稼働ノード (1=稼働, 0=待機) / Node role (1 active, 0 standby)",
                            "short", [("cti_node_active", "{{node}}")]).min(0).max(1))
        .with_panel(_series("音声処理 (1=正常) と音声の遅れ / Media workers up, late audio per minute",
                            "short", [("min(cti_media_up)", "稼働 / up"),
                                      ("increase(cti_media_late_ticks_total[1m])",
                                       "60ms超の遅れ / late > 60 ms")]).min(0))
    )


def volume_vs_baseline(peak: int) -> dash.Dashboard:
    return (
        _base("cti-volume", "入電量と基準 / Volume vs baseline", "now-30d")
        .with_panel(_stat("月初来 / Month to date", "short",
                          [("cti_calls_month_to_date", "月初来 / MTD")],
                          _thresholds((None, "blue"))))
        .with_panel(_stat("月末予測 / Month-end forecast", "short",
                          [("cti_calls_forecast_month", "予測 / forecast")],
                          _thresholds((None, "green"), (0.9 * peak, "orange"),
                                      (peak, "red"))))
        .with_panel(_stat("今月の基準 / This month's baseline", "short",
                          [("cti_calls_baseline_current_month", "基準 / baseline")],
                          _thresholds((None, "blue"))))
        .with_panel(_stat("4月ピーク / April peak", "short",
                          [(PEAK_BASELINE, "ピーク / peak")],
                          _thresholds((None, "purple"))))
        .with_panel(
            _series("月初来と予測 対 基準 / Month to date and forecast vs baseline", "short",
                    [("cti_calls_month_to_date", "月初来 / month to date"),
                     ("cti_calls_expected_to_date", "基準どおりなら / baseline pace"),
                     ("cti_calls_forecast_month", "月末予測 / forecast"),
                     ("cti_calls_baseline_current_month", "今月の基準 / this month's baseline"),
                     ("max(cti_calls_baseline)", "4月ピーク / April peak")],
                    width=24, height=10)
            .min(0)
        )
        .with_panel(
            bargauge.Panel()
            .title("月別基準 / Baseline by month")
            .datasource(DATASOURCE)
            .span(12)
            .height(9)
            .orientation(common_model.VizOrientation.VERTICAL)
            .display_mode(common_model.BarGaugeDisplayMode.BASIC)
            .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
            .with_target(_targets([("cti_calls_baseline", "{{month}}")], instant=True)[0])
        )
        .with_panel(_series("時間あたり入電 / Calls per hour", "short",
                            [(OFFERED_PER_HOUR, "{{service}}"),
                             ("sum(increase(cti_calls_total[1h])) by (outcome)",
                              "{{outcome}}")]))
    )


def staffing_dashboard() -> dash.Dashboard:
    return (
        _base("cti-staffing", "要員 / Staffing", "now/d", "now/d")
        .with_panel(_hourly_bars(
            "時間帯別 必要人数と在席 / Recommended vs logged-in operators by hour",
            [(f"max_over_time({RECOMMENDED}[1h])", "必要 (実績) / recommended (live)"),
             ("max_over_time(cti_staffing_forecast[1h])", "必要 (予測) / needed (forecast)"),
             (f"min_over_time({LOGGED_IN}[1h])", "在席 / logged in")]))
        .with_panel(_series("サービス別 必要人数 / Recommended by service (Erlang)", "short",
                            [("cti_staffing_recommended", "{{service}}")]))
        .with_panel(_series("在席と必要 / Logged in vs recommended", "short",
                            [(LOGGED_IN, "在席 / logged in"),
                             (RECOMMENDED, "必要 / recommended"),
                             ("cti_staffing_forecast", "予測 / forecast")]))
        .with_panel(_series("サービス別 入電率 / Arrival rate by service", "short",
                            [("cti_arrival_rate_per_hour", "{{service}} /h")]))
        .with_panel(_series("平均処理時間 / Average handle time (1h)", "s",
                            [(HANDLE_MEAN_1H, "{{service}}")]))
    )


def dashboards(
    thresholds: AlertThresholds | None = None, baseline: Sequence[int] = DEFAULT_BASELINE
) -> dict[str, dash_model.Dashboard]:
    """File name -> built dashboard model."""
    return {
        "queue-now.json": queue_now(thresholds or AlertThresholds()).build(),
        "volume-vs-baseline.json": volume_vs_baseline(max(baseline)).build(),
        "staffing.json": staffing_dashboard().build(),
    }


def render(model: dash_model.Dashboard) -> str:
    return json.dumps(model, cls=JSONEncoder, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def panel_queries(document: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """``(panel title, expr)`` for every query in a dashboard JSON document."""
    for panel in document.get("panels", []):
        for target in panel.get("targets", []):
            if "expr" in target:
                yield panel.get("title", ""), target["expr"]


def default_dashboards_dir() -> Path:
    import cti.config

    return Path(cti.config.__file__).parent / "grafana" / "dashboards"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args[0]) if args else default_dashboards_dir()
    out.mkdir(parents=True, exist_ok=True)
    for name, model in dashboards().items():
        (out / name).write_text(render(model), encoding="utf-8")
        print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
