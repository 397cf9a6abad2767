"""Counting in business hours: when an escalation falls due, and whether it is overdue.

Pure: every function takes the instants it is about and the ``BusinessCalendar``; nothing reads a
clock. Only the calendar's openings count (weekdays 08:45-17:15 by default, minus national
holidays and the year-end closure). A supervisor's temporary open/closed override does not move
due dates: it is a decision about taking calls, not about the vendor's working time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cti.config import BusinessCalendar

MAX_DAYS = 1500  # bounds every walk; a calendar with no opening in four years is broken


class NoBusinessDays(RuntimeError):
    pass


def add_business_time(calendar: BusinessCalendar, start: datetime, amount: timedelta) -> datetime:
    """The instant ``amount`` of business time after ``start`` (in UTC).

    Time before the first opening is skipped: an escalation made on Saturday starts counting on
    Monday at opening time. Ending exactly at closing time stays on that day.
    """
    if start.tzinfo is None:
        raise ValueError("business time needs a timezone-aware start")
    if amount < timedelta(0):
        raise ValueError("amount of business time must not be negative")
    remaining = amount
    day = start.astimezone(calendar.zone).date()
    for _ in range(MAX_DAYS):
        if calendar.is_business_day(day):
            opens, closes = (t.astimezone(UTC) for t in calendar.opening(day))
            begin = max(opens, start.astimezone(UTC))
            if begin < closes or (begin == closes and remaining == timedelta(0)):
                available = closes - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
        day += timedelta(days=1)
    raise NoBusinessDays(f"no business day within {MAX_DAYS} days of {start.isoformat()}")


def business_time_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    """How much business time lies between ``start`` and ``end`` (zero when end <= start)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("business time needs timezone-aware instants")
    total = timedelta(0)
    if end <= start:
        return total
    day = start.astimezone(calendar.zone).date()
    last = end.astimezone(calendar.zone).date()
    for _ in range(MAX_DAYS):
        if day > last:
            return total
        if calendar.is_business_day(day):
            opens, closes = calendar.opening(day)
            begin, finish = max(opens, start), min(closes, end)
            if finish > begin:
                total += finish - begin
        day += timedelta(days=1)
    raise NoBusinessDays(f"{start.isoformat()} to {end.isoformat()} spans more than {MAX_DAYS} days")


def due_at(calendar: BusinessCalendar, created_at: datetime, business_hours: int) -> datetime:
    return add_business_time(calendar, created_at, timedelta(hours=business_hours))


def is_overdue(due: datetime | None, answered_at: datetime | None, now: datetime) -> bool:
    """Unanswered and past its due date (which is already counted in business hours)."""
    return due is not None and answered_at is None and now >= due
