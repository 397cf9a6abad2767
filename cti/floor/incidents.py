"""The supervisor's incident notice: "Citrix is down, we are working on it".

While a notice is in force every caller hears it after the greeting (a caller who hangs up
after hearing it counts as deflected), and the affected service's priority may be raised or
lowered. One notice at a time; it ends at ``until`` or when cleared.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from cti.clock import wire_time, wire_time_or_none


@dataclass(frozen=True, slots=True)
class IncidentNotice:
    service: str | None
    message_ja: str
    message_en: str
    priority_delta: int
    until: datetime | None
    declared_by: str
    declared_at: datetime

    def active(self, at: datetime) -> bool:
        return self.until is None or at < self.until

    @property
    def prompt(self) -> str:
        """What the IVR plays: synthesised speech, Japanese first, English second."""
        english = f"\n{self.message_en}" if self.message_en else ""  # each line its own voice
        return f"tts:{self.message_ja}{english}"

    def as_json(self, zone: tzinfo) -> dict[str, object]:
        return {"service": self.service, "message_ja": self.message_ja,
                "message_en": self.message_en, "priority_delta": self.priority_delta,
                "until": wire_time_or_none(self.until, zone),
                "declared_by": self.declared_by, "declared_at": wire_time(self.declared_at, zone)}


class IncidentBoard:
    def __init__(self) -> None:
        self._notice: IncidentNotice | None = None

    def current(self, at: datetime) -> IncidentNotice | None:
        if self._notice is not None and not self._notice.active(at):
            self._notice = None
        return self._notice

    def declare(self, notice: IncidentNotice) -> IncidentNotice | None:
        """Put up a notice; returns the one it replaces."""
        previous, self._notice = self._notice, notice
        return previous

    def clear(self) -> IncidentNotice | None:
        previous, self._notice = self._notice, None
        return previous
