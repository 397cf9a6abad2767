"""When the helpdesk is open: business hours, Japanese national holidays, year-end closure.

Pure: every question takes the instant it is about (``at``); nothing here reads a clock. Holidays,
including substitute holidays, come from the maintained ``holidays`` package, not a typed list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import holidays

from cti.clock import wire_time

from .settings import HoursSettings

ReasonCode = Literal[
    "weekend", "holiday", "year_end", "outside_hours", "override_open", "override_closed"
]
_WEEKDAY_JA = "月火水木金土日"
_SEARCH_DAYS = 40  # longest imaginable closure (year end + Golden Week + weekends) is far shorter


@dataclass(frozen=True, slots=True)
class HoursOverride:
    """A supervisor's decision to force the helpdesk open or closed, until ``until`` (or until cleared)."""

    mode: Literal["open", "closed"]
    until: datetime | None
    set_by: str

    def active(self, at: datetime) -> bool:
        return self.until is None or at < self.until


@dataclass(frozen=True, slots=True)
class CalendarStatus:
    open: bool
    reason_code: ReasonCode | None
    reason: str | None  # Japanese first, English second; None when open on a normal business day
    next_open: datetime | None  # ``at`` itself when open; None when forced closed with no end
    closes_at: datetime | None  # end of the current opening, when open

    def as_json(self) -> dict[str, object]:
        return {
            "open": self.open,
            "reason": self.reason,
            "reason_code": self.reason_code,
            # computed in the helpdesk's zone (``BusinessCalendar.status``): written in their own
            "next_open": wire_time(self.next_open, self.next_open.tzinfo or UTC)
            if self.next_open else None,
            "closes_at": wire_time(self.closes_at, self.closes_at.tzinfo or UTC)
            if self.closes_at else None,
        }


class BusinessCalendar:
    def __init__(self, hours: HoursSettings) -> None:
        self._hours = hours
        self._holidays_ja = holidays.Japan(language="ja")
        self._holidays_en = holidays.Japan(language="en_US")

    @property
    def zone(self) -> ZoneInfo:
        return self._hours.timezone

    def closure(self, day: date) -> tuple[ReasonCode, str] | None:
        """Why ``day`` is not a business day (code and bilingual text), or None if it is one."""
        if (day.month, day.day) in self._hours.closed_dates:
            return "year_end", "年末年始休業 / Year-end and New Year closure"
        if self._hours.national_holidays and day in self._holidays_ja:
            ja, en = self._holidays_ja.get(day), self._holidays_en.get(day)
            return "holiday", f"祝日（{ja}） / National holiday ({en})"
        if day.weekday() not in self._hours.days:
            return "weekend", (
                f"休業日（{_WEEKDAY_JA[day.weekday()]}曜日） / Closed on {day:%A}s"
            )
        return None

    def is_business_day(self, day: date) -> bool:
        return self.closure(day) is None

    def opening(self, day: date) -> tuple[datetime, datetime]:
        zone = self._hours.timezone
        start = datetime.combine(day, self._hours.open, tzinfo=zone)
        end = datetime.combine(day, self._hours.close, tzinfo=zone)
        return start, end

    def next_open(self, at: datetime) -> datetime:
        """``at`` if the calendar says open then, else the next opening time."""
        local = _aware(at).astimezone(self._hours.timezone)
        day = local.date()
        for offset in range(_SEARCH_DAYS):
            candidate = day + timedelta(days=offset)
            if not self.is_business_day(candidate):
                continue
            start, end = self.opening(candidate)
            if local < start:
                return start
            if local < end:
                return local
        raise RuntimeError(f"no business day within {_SEARCH_DAYS} days of {at.isoformat()}")

    def status(self, at: datetime, override: HoursOverride | None = None) -> CalendarStatus:
        local = _aware(at).astimezone(self._hours.timezone)
        if override is not None and override.active(local):
            return self._overridden(local, override)
        next_open = self.next_open(local)
        if next_open == local:
            return CalendarStatus(True, None, None, local, self.opening(local.date())[1])
        code, reason = self.closure(local.date()) or (
            "outside_hours",
            f"受付時間外（受付時間 {self._hours.open:%H:%M}〜{self._hours.close:%H:%M}） / "
            f"Outside business hours ({self._hours.open:%H:%M}-{self._hours.close:%H:%M})",
        )
        return CalendarStatus(False, code, reason, next_open, None)

    def _overridden(self, local: datetime, override: HoursOverride) -> CalendarStatus:
        until = override.until.astimezone(self._hours.timezone) if override.until else None
        until_ja = f"{until:%m/%d %H:%M}まで" if until else "解除まで"
        until_en = f"until {until:%Y-%m-%d %H:%M}" if until else "until cleared"
        if override.mode == "open":
            return CalendarStatus(
                True, "override_open",
                f"臨時開設（{until_ja}） / Opened by supervisor override ({until_en})",
                local, until,
            )
        next_open = self.next_open(until) if until else None
        return CalendarStatus(
            False, "override_closed",
            f"臨時休止（{until_ja}） / Closed by supervisor override ({until_en})",
            next_open, None,
        )


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("calendar questions need a timezone-aware datetime")
    return at
