"""Plain-text rendering of a MonthForecast (Japanese labels first, English second)."""

from __future__ import annotations

import math

from cti.metrics.forecast import MonthForecast

BAR = "█"
WEEKDAYS = (("月", "Mon"), ("火", "Tue"), ("水", "Wed"), ("木", "Thu"), ("金", "Fri"),
            ("土", "Sat"), ("日", "Sun"))  # fmt: skip
MODEL_NAMES = {"erlang_c": "Erlang C", "erlang_a": "Erlang A"}


def bar(value: float, largest: float, width: int) -> str:
    """A bar of at most ``width`` blocks, proportional to ``value / largest``."""
    if largest <= 0 or value <= 0:
        return ""
    return BAR * max(1, round(width * value / largest))


def render_forecast_text(forecast: MonthForecast, *, width: int = 40) -> str:
    f = forecast
    lines = [
        f"{f.year}年{f.month}月 入電予測 / Call forecast {f.year:04d}-{f.month:02d}",
        "",
        f"月間基準値 / Monthly baseline: {f.baseline_calls} 件 calls"
        f"  (年間ピーク / yearly peak: {f.peak_baseline_calls})",
    ]
    if f.month_to_date is not None and f.as_of is not None:
        lines.append(
            f"月初来実績 / Month to date: {f.month_to_date} 件 calls"
            f"  ({f.as_of:%Y-%m-%d %H:%M} 時点 / as of)"
        )
    lines += [
        f"営業日 / Business days: {len(f.business_days)}"
        f"  (経過 / elapsed {f.business_days_elapsed:.2f})",
        f"月末予測 / Projected month total: {f.projected_calls:.1f} 件 calls"
        f"  (基準比 / vs baseline x{f.scale:.2f})",
    ]
    if f.projected_calls > f.peak_baseline_calls:
        lines.append("警告: 4月ピークを超える見込み / Warning: above the April peak")
    lines += [
        f"モデル / Model: {MODEL_NAMES[f.model]}, 目標 / target {f.target:.0%}"
        f" <= {f.within_seconds:g} s, 平均処理時間 / AHT {f.aht_seconds:g} s"
        + (f", 放棄率 / abandon rate {f.abandon_rate:g}/s" if f.abandon_rate else ""),
        "",
        "営業日別 予測件数 / Expected calls per business day",
    ]
    day_max = max((d.expected_calls for d in f.days), default=0.0)
    for d in f.days:
        ja, en = WEEKDAYS[d.date.weekday()]
        mark = " 済/done" if d.elapsed >= 1.0 else ""
        lines.append(
            f"  {d.date:%m-%d} ({ja}/{en}) {d.expected_calls:6.1f} "
            f"{bar(d.expected_calls, day_max, width)}{mark}"
        )
    if not f.days:
        lines.append("  営業日なし / no business days")
    lines += [
        "",
        "時間帯別 (1営業日あたり) / Per hour (one business day)",
        "  時間帯/Hour   件数/Calls 件毎時/Per h 必要人数/Operators"
        " 応答率/SL 平均待ち/ASA",
    ]
    hour_max = max((h.calls_per_hour for h in f.hours), default=0.0)
    for h in f.hours:
        asa = "-" if math.isinf(h.staffing.asa_seconds) else f"{h.staffing.asa_seconds:.1f}s"
        lines.append(
            f"  {h.start:%H:%M}-{h.end:%H:%M}  {h.expected_calls:9.2f} {h.calls_per_hour:11.2f}"
            f" {h.staffing.operators:17d} {h.staffing.service_level:8.1%} {asa:>11}"
            f"  {bar(h.calls_per_hour, hour_max, width // 2)}"
        )
    return "\n".join(lines) + "\n"
