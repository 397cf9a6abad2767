"""Monthly call forecast from the seasonal baseline and the records so far.

Pure functions, no I/O, no clock: ``now`` and the business-day predicate come in.

Assumptions (documented, each a parameter):

* Within a month every business day gets the same share of the month's calls
  (no weekday effect; the helpdesk has no per-weekday history yet).
* Within a business day calls follow ``hourly_profile``: a relative arrival
  intensity per clock hour, constant within the hour.  A slot's share of the
  day is its intensity times its length, normalised over the opening hours,
  so the quarter-hour slots 08:45-09:00 and 17:00-17:15 get a quarter of an
  hour's weight.  The default has a morning peak (staff start work, find
  that isolation, portal or device-control problems block them and call in
  the first hours), a lunch dip at 12:00 and a flatter afternoon that tails
  off before closing.
* Month-end projection: ``projected = month_to_date + scale * baseline *
  (1 - f)`` where ``f`` is the fraction of the month's business time elapsed
  (weighted by the hourly profile) and ``scale = (month_to_date + prior) /
  (baseline * f + prior)`` compares the records with what the baseline
  expected so far, shrunk toward 1 by ``prior`` = the baseline's calls of
  ``prior_business_days`` days, so one busy morning does not triple the
  forecast but an outage storm over several days does move it.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from cti.clock import wire_time
from cti.metrics.erlang import Staffing, evaluate, staffing
from cti.metrics.errors import PlanningInputError

TOKYO = ZoneInfo("Asia/Tokyo")
DEFAULT_BASELINE: tuple[int, ...] = (181, 130, 433, 705, 229, 254, 136, 140, 124, 149, 136, 217)
DEFAULT_OPENS = dt.time(8, 45)
DEFAULT_CLOSES = dt.time(17, 15)
DEFAULT_HOURLY_PROFILE: Mapping[int, float] = {
    8: 1.4,
    9: 1.4,
    10: 1.3,
    11: 1.1,
    12: 0.6,
    13: 1.0,
    14: 1.0,
    15: 0.9,
    16: 0.8,
    17: 0.6,
}
DEFAULT_AHT_SECONDS = 420.0
DEFAULT_PRIOR_BUSINESS_DAYS = 3.0

BusinessDayPredicate = Callable[[dt.date], bool]


class ForecastError(PlanningInputError):
    """A forecast was asked with inputs that cannot describe a month (the caller's fault)."""


@dataclass(frozen=True, slots=True)
class Slot:
    """One opening-hours slot of a business day, at most one clock hour long."""

    start: dt.time
    end: dt.time
    share: float

    @property
    def hours(self) -> float:
        return (_minutes(self.end) - _minutes(self.start)) / 60.0


@dataclass(frozen=True, slots=True)
class DayForecast:
    date: dt.date
    expected_calls: float
    elapsed: float


@dataclass(frozen=True, slots=True)
class HourForecast:
    start: dt.time
    end: dt.time
    expected_calls: float
    calls_per_hour: float
    staffing: Staffing


@dataclass(frozen=True, slots=True)
class MonthForecast:
    year: int
    month: int
    baseline_calls: int
    peak_baseline_calls: int
    month_to_date: int | None
    as_of: dt.datetime | None
    business_days: tuple[dt.date, ...]
    business_days_elapsed: float
    scale: float
    projected_calls: float
    days: tuple[DayForecast, ...]
    hours: tuple[HourForecast, ...]
    aht_seconds: float
    target: float
    within_seconds: float
    abandon_rate: float | None

    @property
    def model(self) -> str:
        return "erlang_a" if self.abandon_rate else "erlang_c"

    def to_json(self) -> dict[str, object]:
        return {
            "month": f"{self.year:04d}-{self.month:02d}",
            "baseline_calls": self.baseline_calls,
            "peak_baseline_calls": self.peak_baseline_calls,
            "month_to_date": self.month_to_date,
            "as_of": wire_time(self.as_of, self.as_of.tzinfo or dt.UTC) if self.as_of else None,
            "business_days": len(self.business_days),
            "business_days_elapsed": round(self.business_days_elapsed, 4),
            "scale": round(self.scale, 4),
            "projected_calls": round(self.projected_calls, 2),
            "model": self.model,
            "aht_seconds": self.aht_seconds,
            "target": self.target,
            "within_seconds": self.within_seconds,
            "abandon_rate": self.abandon_rate,
            "days": [
                {
                    "date": d.date.isoformat(),
                    "expected_calls": round(d.expected_calls, 2),
                    "elapsed": round(d.elapsed, 4),
                }
                for d in self.days
            ],
            "hours": [
                {
                    "start": h.start.strftime("%H:%M"),
                    "end": h.end.strftime("%H:%M"),
                    "expected_calls": round(h.expected_calls, 3),
                    "calls_per_hour": round(h.calls_per_hour, 3),
                    **h.staffing.to_json(),
                }
                for h in self.hours
            ],
        }


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


def opening_slots(
    opens: dt.time = DEFAULT_OPENS,
    closes: dt.time = DEFAULT_CLOSES,
    hourly_profile: Mapping[int, float] = DEFAULT_HOURLY_PROFILE,
) -> tuple[Slot, ...]:
    """Split opening hours at clock-hour boundaries; shares sum to 1."""
    start, end = _minutes(opens), _minutes(closes)
    if end <= start:
        raise ForecastError(f"closing time {closes} must be after opening time {opens}")
    bounds: list[tuple[int, int]] = []
    cursor = start
    while cursor < end:
        nxt = min(end, (cursor // 60 + 1) * 60)
        bounds.append((cursor, nxt))
        cursor = nxt
    weights = [max(0.0, float(hourly_profile.get(a // 60, 0.0))) * (b - a) for a, b in bounds]
    total = sum(weights)
    if total <= 0:
        raise ForecastError("hourly_profile gives no weight to any opening hour")
    return tuple(
        Slot(dt.time(a // 60, a % 60), dt.time(b // 60, b % 60), w / total)
        for (a, b), w in zip(bounds, weights, strict=True)
    )


def business_days_of(
    year: int, month: int, is_business_day: BusinessDayPredicate
) -> tuple[dt.date, ...]:
    if not 1 <= month <= 12:
        raise ForecastError(f"month must be 1..12, got {month}", "month")
    last = calendar.monthrange(year, month)[1]
    days = (dt.date(year, month, d) for d in range(1, last + 1))
    return tuple(d for d in days if is_business_day(d))


def local(now: dt.datetime, tz: dt.tzinfo = TOKYO) -> dt.datetime:
    """``now`` in the helpdesk's zone; naive datetimes are taken as already local."""
    return now.astimezone(tz) if now.tzinfo is not None else now.replace(tzinfo=tz)


def day_elapsed(slots: Sequence[Slot], at: dt.time) -> float:
    """Share of one business day's calls expected before ``at``."""
    minute = at.hour * 60 + at.minute + at.second / 60.0
    done = 0.0
    for slot in slots:
        a, b = _minutes(slot.start), _minutes(slot.end)
        if minute >= b:
            done += slot.share
        elif minute > a:
            done += slot.share * (minute - a) / (b - a)
    return done


def elapsed_by_day(
    business_days: Sequence[dt.date], slots: Sequence[Slot], now: dt.datetime | None
) -> list[float]:
    """For each business day, the share of its calls expected before ``now`` (local)."""
    if now is None:
        return [0.0] * len(business_days)
    today = now.date()
    return [
        1.0 if d < today else day_elapsed(slots, now.time()) if d == today else 0.0
        for d in business_days
    ]


def project_month_end(
    month_to_date: float,
    baseline_calls: float,
    elapsed_days: float,
    total_days: int,
    prior_business_days: float = DEFAULT_PRIOR_BUSINESS_DAYS,
) -> tuple[float, float]:
    """Return ``(projected_calls, scale)``; see the module docstring for the formula."""
    if total_days <= 0:
        return float(month_to_date), 1.0
    f = min(1.0, max(0.0, elapsed_days / total_days))
    prior = baseline_calls * min(prior_business_days, total_days) / total_days
    denominator = baseline_calls * f + prior
    if denominator > 0:
        scale = (month_to_date + prior) / denominator
    elif f > 0:  # no baseline at all: plain run rate
        return month_to_date / f, 1.0
    else:
        scale = 1.0
    return month_to_date + scale * baseline_calls * (1.0 - f), scale


def forecast_month(
    year: int,
    month: int,
    *,
    baseline: Sequence[int] = DEFAULT_BASELINE,
    is_business_day: BusinessDayPredicate,
    opens: dt.time = DEFAULT_OPENS,
    closes: dt.time = DEFAULT_CLOSES,
    hourly_profile: Mapping[int, float] = DEFAULT_HOURLY_PROFILE,
    aht_seconds: float = DEFAULT_AHT_SECONDS,
    target: float = 0.8,
    within_seconds: float = 20.0,
    abandon_rate: float | None = None,
    month_to_date: int | None = None,
    now: dt.datetime | None = None,
    tz: dt.tzinfo = TOKYO,
    min_operators: int = 1,
    prior_business_days: float = DEFAULT_PRIOR_BUSINESS_DAYS,
) -> MonthForecast:
    """Expected calls per business day and per hour, and operators needed per hour.

    Without ``month_to_date`` the forecast is the baseline spread over the
    month's business days.  With it (and ``now``), the records so far scale
    the rest of the month.  Hours describe one remaining (or, if none remain,
    an average) business day; ``min_operators`` is the floor while open.
    """
    if len(baseline) != 12:
        raise ForecastError(f"baseline needs 12 monthly counts (Jan..Dec), got {len(baseline)}")
    if month_to_date is not None and now is None:
        raise ForecastError("month_to_date needs now")
    if month_to_date is not None and month_to_date < 0:
        raise ForecastError(f"month_to_date must be >= 0, got {month_to_date}", "month_to_date")
    days = business_days_of(year, month, is_business_day)
    slots = opening_slots(opens, closes, hourly_profile)
    base = float(baseline[month - 1])
    as_of = local(now, tz) if now is not None else None
    elapsed = elapsed_by_day(days, slots, as_of) if month_to_date is not None else [0.0] * len(days)
    f_days = sum(elapsed)
    mtd = float(month_to_date or 0)
    projected, scale = project_month_end(mtd, base, f_days, len(days), prior_business_days)
    per_day = base / len(days) if days else 0.0
    day_rows = tuple(
        DayForecast(
            date=d,
            expected_calls=(mtd * e / f_days if f_days > 0 else 0.0) + scale * per_day * (1.0 - e),
            elapsed=e,
        )
        for d, e in zip(days, elapsed, strict=True)
    )
    typical_day = scale * per_day
    hour_rows = tuple(
        _hour(slot, typical_day, aht_seconds, target, within_seconds, abandon_rate, min_operators)
        for slot in slots
    )
    return MonthForecast(
        year=year,
        month=month,
        baseline_calls=int(base),
        peak_baseline_calls=max(baseline),
        month_to_date=month_to_date,
        as_of=as_of,
        business_days=days,
        business_days_elapsed=f_days,
        scale=scale,
        projected_calls=projected,
        days=day_rows,
        hours=hour_rows,
        aht_seconds=aht_seconds,
        target=target,
        within_seconds=within_seconds,
        abandon_rate=abandon_rate,
    )


def _hour(
    slot: Slot,
    calls_per_day: float,
    aht_seconds: float,
    target: float,
    within_seconds: float,
    abandon_rate: float | None,
    min_operators: int,
) -> HourForecast:
    calls = calls_per_day * slot.share
    rate = calls / slot.hours
    need = staffing(rate, aht_seconds, target, within_seconds, abandon_rate)
    if need.operators < min_operators:
        need = evaluate(min_operators, rate, aht_seconds, within_seconds, abandon_rate)
    return HourForecast(slot.start, slot.end, calls, rate, need)


def current_slot(slots: Sequence[Slot], at: dt.time) -> Slot | None:
    minute = _minutes(at)
    for slot in slots:
        if _minutes(slot.start) <= minute < _minutes(slot.end):
            return slot
    return None
