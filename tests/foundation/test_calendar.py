"""The business calendar: hours, national and substitute holidays, year-end closure, overrides."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cti.config import BusinessCalendar, HoursOverride, load_settings

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture(scope="module")
def calendar() -> BusinessCalendar:
    return BusinessCalendar(load_settings(None, {}).hours)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TOKYO)


@pytest.mark.parametrize(
    ("instant", "is_open", "code", "next_open"),
    [
        ("2026-11-24 10:00", True, None, "2026-11-24 10:00"),
        ("2026-11-24 08:44", False, "outside_hours", "2026-11-24 08:45"),
        ("2026-11-24 08:45", True, None, "2026-11-24 08:45"),
        ("2026-11-24 17:14", True, None, "2026-11-24 17:14"),
        ("2026-11-24 17:15", False, "outside_hours", "2026-11-25 08:45"),
        ("2026-11-27 18:00", False, "outside_hours", "2026-11-30 08:45"),  # Friday evening
        ("2026-11-28 10:00", False, "weekend", "2026-11-30 08:45"),
        ("2026-11-23 10:00", False, "holiday", "2026-11-24 08:45"),  # 勤労感謝の日
        ("2026-05-06 10:00", False, "holiday", "2026-05-07 08:45"),  # substitute holiday
        ("2026-12-28 17:00", True, None, "2026-12-28 17:00"),
        ("2026-12-29 10:00", False, "year_end", "2027-01-04 08:45"),
        ("2027-01-03 10:00", False, "year_end", "2027-01-04 08:45"),
        ("2027-04-29 10:00", False, "holiday", "2027-04-30 08:45"),  # 昭和の日
    ],
)
def test_status(calendar: BusinessCalendar, instant: str, is_open: bool, code: str | None,
                next_open: str) -> None:
    status = calendar.status(at(instant))
    assert status.open is is_open
    assert status.reason_code == code
    assert status.next_open == at(next_open)
    if is_open:
        assert status.reason is None and status.closes_at is not None
    else:
        assert status.reason and " / " in status.reason  # Japanese first, English second


def test_holiday_reason_names_the_holiday_in_japanese_and_english(calendar: BusinessCalendar) -> None:
    reason = calendar.status(at("2026-11-23 10:00")).reason or ""
    assert reason.startswith("祝日（勤労感謝の日）")
    assert "Labor Thanksgiving Day" in reason
    substitute = calendar.status(at("2026-05-06 10:00")).reason or ""
    assert "振替休日" in substitute


def test_instants_in_other_zones_are_converted(calendar: BusinessCalendar) -> None:
    utc_open = datetime.fromisoformat("2026-11-24T00:00:00+00:00")  # 09:00 in Tokyo
    assert calendar.status(utc_open).open


def test_naive_datetime_is_refused(calendar: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.status(datetime(2026, 11, 24, 10, 0))


def test_override_open_until_then_back_to_calendar(calendar: BusinessCalendar) -> None:
    sunday = at("2026-11-29 10:00")
    override = HoursOverride("open", sunday + timedelta(hours=4), "sv01")
    status = calendar.status(sunday, override)
    assert status.open and status.reason_code == "override_open"
    assert "臨時開設" in (status.reason or "")
    assert status.closes_at == sunday + timedelta(hours=4)
    later = calendar.status(sunday + timedelta(hours=5), override)
    assert not later.open and later.reason_code == "weekend"


def test_override_closed_reports_next_open_after_it_ends(calendar: BusinessCalendar) -> None:
    tuesday = at("2026-11-24 10:00")
    override = HoursOverride("closed", at("2026-11-24 12:00"), "sv01")
    status = calendar.status(tuesday, override)
    assert not status.open and status.reason_code == "override_closed"
    assert status.next_open == at("2026-11-24 12:00")
    forever = calendar.status(tuesday, HoursOverride("closed", None, "config"))
    assert forever.next_open is None and "解除まで" in (forever.reason or "")


def test_business_days_of_april_2027(calendar: BusinessCalendar) -> None:
    days = [datetime(2027, 4, d).date() for d in range(1, 31)]
    assert sum(calendar.is_business_day(d) for d in days) == 21  # 22 weekdays minus 昭和の日
