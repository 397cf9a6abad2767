"""Is the helpdesk open now: the calendar plus the override in force (config, or a supervisor's)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import structlog

from cti.config import BusinessCalendar, CalendarStatus, HoursOverride
from cti.storage import hours as stored
from cti.storage.users import Sessions

log = structlog.get_logger()


class HelpdeskHours:
    def __init__(self, calendar: BusinessCalendar, config_override: str, sessions: Sessions) -> None:
        self.calendar = calendar
        self._sessions = sessions
        # A non-"auto" value in the config file or CTI_HOURS_OVERRIDE wins over everything else.
        self._fixed = _override(config_override, None, "config")
        self._override: HoursOverride | None = None

    @property
    def calendar_zone(self) -> ZoneInfo:
        return self.calendar.zone

    @property
    def override(self) -> HoursOverride | None:
        return self._fixed or self._override

    async def load(self) -> None:
        """Restore the last supervisor override after a restart."""
        latest = await stored.latest_override(self._sessions)
        if latest is not None:
            self._override = _override(latest.mode, latest.until, latest.set_by)

    def status(self, at: datetime) -> CalendarStatus:
        return self.calendar.status(at, self.override)

    async def set_override(self, mode: str, until: datetime | None, by: str, now: datetime) -> None:
        await stored.save_override(self._sessions, stored.StoredOverride(mode, until, by, now))
        self._override = _override(mode, until, by)
        log.info("hours.override_set", mode=mode, until=until.isoformat() if until else None, by=by)


def _override(mode: str, until: datetime | None, by: str) -> HoursOverride | None:
    """An override for "open"/"closed"; None for "auto" (the calendar decides)."""
    if mode == "open":
        return HoursOverride("open", until, by)
    if mode == "closed":
        return HoursOverride("closed", until, by)
    return None
