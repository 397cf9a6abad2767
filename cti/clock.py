"""The one place the service reads the wall clock, and the one rule for writing time out.

Tests pass their own ``Clock``. Every timestamp a person may read (JSON, CSV, reports, mails)
goes through :func:`wire_time`: ISO 8601 in the helpdesk's own zone (``+09:00`` in Sapporo),
whole seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def wire_time(at: datetime, zone: tzinfo) -> str:
    """``2027-04-01T09:05:07+09:00``: the helpdesk's offset, no fractional seconds.

    A naive value is taken as UTC (that is how the database hands back SQLite timestamps).
    """
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(zone).replace(microsecond=0).isoformat()


def wire_time_or_none(at: datetime | None, zone: tzinfo) -> str | None:
    return None if at is None else wire_time(at, zone)
