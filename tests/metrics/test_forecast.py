"""Monthly forecast: business days, the hourly profile, the month-end projection, JSON and text."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pytest

from cti.metrics import (
    DEFAULT_BASELINE,
    ForecastError,
    evaluate,
    forecast_month,
    render_forecast_text,
    staffing,
)
from cti.metrics.forecast import opening_slots, project_month_end

from .conftest import JST

BusinessDay = Callable[[dt.date], bool]


def test_april_2027_business_days_skip_weekends_and_showa_day(is_business_day: BusinessDay) -> None:
    f = forecast_month(2027, 4, is_business_day=is_business_day)
    assert dt.date(2027, 4, 29) not in f.business_days  # Showa Day, a Thursday
    assert all(d.weekday() < 5 for d in f.business_days)
    assert len(f.business_days) == 21  # 22 weekdays in April 2027 less Showa Day


def test_without_records_the_baseline_is_spread_evenly(is_business_day: BusinessDay) -> None:
    f = forecast_month(2027, 4, is_business_day=is_business_day)
    assert f.projected_calls == pytest.approx(705)
    assert sum(d.expected_calls for d in f.days) == pytest.approx(705)
    per_day = 705 / len(f.business_days)
    assert all(d.expected_calls == pytest.approx(per_day) for d in f.days)
    assert sum(h.expected_calls for h in f.hours) == pytest.approx(per_day)


def test_slots_cover_opening_hours_and_the_morning_peaks() -> None:
    slots = opening_slots()
    assert slots[0].start == dt.time(8, 45) and slots[0].end == dt.time(9, 0)
    assert slots[-1].start == dt.time(17, 0) and slots[-1].end == dt.time(17, 15)
    assert sum(s.share for s in slots) == pytest.approx(1.0)
    rates = {s.start.hour: s.share / s.hours for s in slots}
    assert max(rates, key=rates.__getitem__) in (8, 9)  # morning peak
    assert rates[12] < rates[11] and rates[12] < rates[13]  # lunch dip


def test_each_hour_staffed_by_erlang_c_for_its_own_rate(is_business_day: BusinessDay) -> None:
    f = forecast_month(2027, 4, is_business_day=is_business_day, aht_seconds=420)
    for h in f.hours:
        slot_hours = (h.end.hour * 60 + h.end.minute - h.start.hour * 60 - h.start.minute) / 60
        assert h.calls_per_hour == pytest.approx(h.expected_calls / slot_hours)
        expected = max(staffing(h.calls_per_hour, 420, 0.8, 20).operators, 1)
        assert h.staffing.operators == expected
        assert h.staffing.model == "erlang_c"


def test_abandon_rate_switches_to_erlang_a(is_business_day: BusinessDay) -> None:
    f = forecast_month(2027, 4, is_business_day=is_business_day, abandon_rate=1 / 90)
    assert f.model == "erlang_a"
    peak = max(f.hours, key=lambda h: h.calls_per_hour)
    assert peak.staffing.model == "erlang_a"
    assert peak.staffing == evaluate(peak.staffing.operators, peak.calls_per_hour, 420, 20, 1 / 90)


def test_on_baseline_pace_the_projection_is_the_baseline(is_business_day: BusinessDay) -> None:
    # Midnight after the 10th business day: exactly 10/21 of the month has passed.
    base = forecast_month(2027, 4, is_business_day=is_business_day)
    tenth = base.business_days[9]
    now = dt.datetime.combine(tenth + dt.timedelta(days=1), dt.time(0, 0), JST)
    mtd = round(705 * 10 / 21)
    f = forecast_month(2027, 4, is_business_day=is_business_day, month_to_date=mtd, now=now)
    assert f.business_days_elapsed == pytest.approx(10)
    assert f.projected_calls == pytest.approx(705, abs=1.0)
    assert sum(d.expected_calls for d in f.days) == pytest.approx(f.projected_calls)


def test_an_outage_storm_raises_the_projection_but_is_shrunk(is_business_day: BusinessDay) -> None:
    # Twice the baseline pace over the first 5 business days of April.
    base = forecast_month(2027, 4, is_business_day=is_business_day)
    now = dt.datetime.combine(base.business_days[4], dt.time(17, 15), JST)
    mtd = round(2 * 705 * 5 / 21)
    f = forecast_month(2027, 4, is_business_day=is_business_day, month_to_date=mtd, now=now)
    naive_run_rate = mtd / 5 * 21
    assert 705 < f.projected_calls < naive_run_rate
    assert f.projected_calls > f.peak_baseline_calls
    later = forecast_month(2027, 4, is_business_day=is_business_day, month_to_date=2 * mtd,
                           now=dt.datetime.combine(base.business_days[9], dt.time(18), JST))
    # More evidence of the storm pulls the scale further from 1.
    assert later.scale > f.scale > 1


def test_at_month_end_the_projection_is_the_count() -> None:
    projected, scale = project_month_end(321, 705, 21, 21, prior_business_days=3)
    assert projected == pytest.approx(321)
    prior = 705 * 3 / 21
    assert scale == pytest.approx((321 + prior) / (705 + prior))
    assert project_month_end(0, 705, 0, 21) == (pytest.approx(705), 1.0)


def test_partial_day_weighs_by_the_hourly_profile(is_business_day: BusinessDay) -> None:
    day = dt.date(2027, 4, 1)  # first business day of the month
    slots = opening_slots()
    at_noon = dt.datetime.combine(day, dt.time(12, 0), JST)
    f = forecast_month(2027, 4, is_business_day=is_business_day, month_to_date=10, now=at_noon)
    morning = sum(s.share for s in slots if s.end <= dt.time(12, 0))
    assert f.business_days_elapsed == pytest.approx(morning)
    assert morning > (12 * 60 - (8 * 60 + 45)) / 510  # more than its share of the clock


def test_records_need_a_time_and_the_baseline_twelve_months(is_business_day: BusinessDay) -> None:
    with pytest.raises(ForecastError):
        forecast_month(2027, 4, is_business_day=is_business_day, month_to_date=3)
    with pytest.raises(ForecastError):
        forecast_month(2027, 4, is_business_day=is_business_day, baseline=DEFAULT_BASELINE[:11])
    with pytest.raises(ForecastError):
        forecast_month(2027, 13, is_business_day=is_business_day)


def test_json_is_serialisable_and_mirrors_the_forecast(is_business_day: BusinessDay) -> None:
    now = dt.datetime(2027, 4, 9, 12, 0, tzinfo=JST)
    f = forecast_month(2027, 4, is_business_day=is_business_day, month_to_date=300, now=now)
    data = json.loads(json.dumps(f.to_json()))
    assert data["month"] == "2027-04"
    assert data["month_to_date"] == 300
    assert data["projected_calls"] == pytest.approx(f.projected_calls, abs=0.01)
    assert [d["date"] for d in data["days"]] == [d.isoformat() for d in f.business_days]
    assert [h["operators"] for h in data["hours"]] == [h.staffing.operators for h in f.hours]
    assert data["hours"][0]["start"] == "08:45"
    assert set(data["hours"][0]) >= {"operators", "service_level", "asa_seconds", "calls_per_hour"}


def test_text_has_bilingual_labels_a_bar_per_day_and_the_peak_warning(
    is_business_day: BusinessDay,
) -> None:
    quiet = forecast_month(2027, 9, is_business_day=is_business_day)
    text = render_forecast_text(quiet)
    assert "2027年9月 入電予測 / Call forecast 2027-09" in text
    assert "Expected calls per business day" in text and "営業日別" in text
    day_lines = [line for line in text.splitlines() if "█" in line and "(" in line and "/" in line
                 and line.strip()[:2].isdigit() and "-" in line.strip()[:5]]  # fmt: skip
    assert len(day_lines) == len(quiet.business_days)
    assert "4月ピーク" not in text
    storm = forecast_month(2027, 9, is_business_day=is_business_day, month_to_date=400,
                           now=dt.datetime(2027, 9, 10, 17, 30, tzinfo=JST))  # fmt: skip
    assert storm.projected_calls > storm.peak_baseline_calls
    assert "Warning: above the April peak" in render_forecast_text(storm)
