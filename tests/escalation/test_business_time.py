"""Due dates counted in business hours: weekends, national holidays, the year-end closure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cti.config import BusinessCalendar, Settings
from cti.escalation.business_time import (
    add_business_time,
    business_time_between,
    due_at,
    is_overdue,
)

JST = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def calendar(make_settings: Callable[..., Settings]) -> BusinessCalendar:
    return BusinessCalendar(make_settings().hours)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=JST)


def test_within_one_day(calendar: BusinessCalendar) -> None:
    assert add_business_time(calendar, at("2026-11-25 09:00"), timedelta(hours=3)) == \
        at("2026-11-25 12:00")
    # Ending exactly at closing time stays on that day.
    assert add_business_time(calendar, at("2026-11-25 08:45"), timedelta(hours=8, minutes=30)) == \
        at("2026-11-25 17:15")


def test_across_a_weekend_and_a_holiday(calendar: BusinessCalendar) -> None:
    # Friday 16:00 + 16 h: Fri 16:00-17:15 (1h15), Sat/Sun closed, Mon 23 Nov is
    # Labour Thanksgiving Day, Tue 24 (8h30, 9h45 so far), Wed 25 from 08:45 + 6h15 = 15:00.
    start = at("2026-11-20 16:00")
    due = due_at(calendar, start, 16)
    assert due == at("2026-11-25 15:00")
    assert business_time_between(calendar, start, due) == timedelta(hours=16)
    # One minute before it is not overdue, at it it is; an answer clears the flag.
    assert not is_overdue(due, None, due - timedelta(minutes=1))
    assert is_overdue(due, None, due)
    assert not is_overdue(due, due - timedelta(hours=1), due + timedelta(days=3))


def test_outside_hours_start_counts_from_the_next_opening(calendar: BusinessCalendar) -> None:
    # Saturday night: counting starts Monday 08:45.
    assert add_business_time(calendar, at("2026-11-28 22:00"), timedelta(hours=2)) == \
        at("2026-11-30 10:45")
    # Before opening on a business day.
    assert add_business_time(calendar, at("2026-11-25 07:00"), timedelta(hours=1)) == \
        at("2026-11-25 09:45")
    # After closing: the next business day.
    assert add_business_time(calendar, at("2026-11-25 18:00"), timedelta(hours=1)) == \
        at("2026-11-26 09:45")


def test_across_the_year_end_closure(calendar: BusinessCalendar) -> None:
    # Mon 28 Dec 16:00 + 2 h: 1h15 that day, 29 Dec - 3 Jan closed, Mon 4 Jan 2027 08:45 + 45 min.
    assert add_business_time(calendar, at("2026-12-28 16:00"), timedelta(hours=2)) == \
        at("2027-01-04 09:30")


def test_business_time_between_skips_closed_time(calendar: BusinessCalendar) -> None:
    assert business_time_between(calendar, at("2026-11-20 17:00"), at("2026-11-24 09:00")) == \
        timedelta(minutes=15 + 15)
    assert business_time_between(calendar, at("2026-11-24 09:00"), at("2026-11-24 08:00")) == \
        timedelta(0)


def test_bad_arguments(calendar: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="aware"):
        add_business_time(calendar, datetime(2026, 11, 25, 9), timedelta(hours=1))
    with pytest.raises(ValueError, match="negative"):
        add_business_time(calendar, at("2026-11-25 09:00"), timedelta(hours=-1))
