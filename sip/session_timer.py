"""RFC 4028 session timers as UAS: negotiation (sans-IO) of Session-Expires and Min-SE.

A caller's INVITE (or a refresh: re-INVITE or UPDATE in the dialog) may carry
``Session-Expires: <delta>[;refresher=uac|uas]`` and ``Min-SE``. We never ask for a timer
ourselves; when the request has one:

- an interval below our Min-SE is refused with 422 and our ``Min-SE`` (RFC 4028 8.1);
- otherwise the interval is accepted as it is; the refresher is the one the request names, or
  the caller when it supports ``timer`` and us when it does not (a proxy inserted the header:
  9, the UAS then refreshes);
- the 2xx carries ``Session-Expires`` with the refresher, plus ``Require: timer`` when the
  caller supports the extension.

The door refreshes (UPDATE) at half the interval when it is the refresher, and sends BYE when a
refresh it waits for does not come before the session expires (10: interval minus
min(32, interval / 3)).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cti.sip.message import SipMessage, split_header_list

MIN_SE_S = 90  # RFC 4028 4: the smallest Min-SE allowed on the wire
MAX_INTERVAL_S = 86_400  # an interval longer than a day is bounded to a day
_SE = re.compile(r"^\s*(\d{1,10})\s*(;.*)?$")
_REFRESHER = re.compile(r";\s*refresher\s*=\s*(uac|uas)\b", re.IGNORECASE)


class IntervalTooSmallError(ValueError):
    """422 Session Interval Too Small, with ``Min-SE: min_se``."""

    def __init__(self, min_se: int) -> None:
        super().__init__(f"Session-Expires below Min-SE {min_se}")
        self.min_se = min_se


class BadSessionExpiresError(ValueError):
    """A Session-Expires or Min-SE that is not a delta-seconds value: 400."""


@dataclass(frozen=True, slots=True)
class SessionTimer:
    interval_s: int
    refresher: str  # "uac" (the caller refreshes) or "uas" (we do)
    uac_supports: bool  # the caller listed "timer" in Supported

    def headers(self) -> list[tuple[str, str]]:
        """What the 2xx to the INVITE or refresh carries."""
        out = [("Session-Expires", f"{self.interval_s};refresher={self.refresher}")]
        if self.uac_supports:
            out.append(("Require", "timer"))
        return out

    @property
    def expires_after_s(self) -> float:
        """Without a refresh by then the session is over (RFC 4028 10)."""
        return self.interval_s - min(32.0, self.interval_s / 3)

    @property
    def refresh_after_s(self) -> float:
        """When we are the refresher: refresh at half the interval (RFC 4028 10)."""
        return self.interval_s / 2


def supported_tags(msg: SipMessage) -> set[str]:
    return {t.strip().lower() for key, value in msg.headers if key == "supported"
            for t in split_header_list(value)}


def negotiate(msg: SipMessage, min_se_s: int = MIN_SE_S) -> SessionTimer | None:
    """The timer for this session (None: the request asks for none); raises
    ``IntervalTooSmallError`` (422) or ``BadSessionExpiresError`` (400)."""
    values = [v for key, v in msg.headers if key == "session-expires"]
    if not values:
        return None
    if len(values) > 1:
        raise BadSessionExpiresError("more than one Session-Expires")
    match = _SE.match(values[0])
    if match is None:
        raise BadSessionExpiresError("Session-Expires is not delta-seconds")
    interval = min(int(match.group(1)), MAX_INTERVAL_S)
    floor = min_se_s
    for value in (v for key, v in msg.headers if key == "min-se"):
        found = _SE.match(value)
        if found is None:
            raise BadSessionExpiresError("Min-SE is not delta-seconds")
        floor = max(floor, min(int(found.group(1)), MAX_INTERVAL_S))
    if interval < min_se_s:
        raise IntervalTooSmallError(min_se_s)
    interval = max(interval, floor)
    supports = "timer" in supported_tags(msg)
    named = _REFRESHER.search(match.group(2) or "")
    refresher = named.group(1).lower() if named else ("uac" if supports else "uas")
    if refresher == "uac" and not supports:
        refresher = "uas"  # a caller that does not know the extension cannot refresh
    return SessionTimer(interval, refresher, supports)
