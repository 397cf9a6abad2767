"""The closed sets of label values CtiMetrics accepts, and its histogram buckets."""

from __future__ import annotations

from collections.abc import Iterable

# Terminal call states of cti.routing (CallClosed.outcome; "ended" = answered and finished)
# plus the ends the service itself decides (closed hours, failures).
DEFAULT_OUTCOMES: tuple[str, ...] = (
    "ended",
    "abandoned",
    "overflowed",
    "voicemail",
    "after_hours",
    "failed",
)
# Calls that ended before reaching a service's queue (no service label to count them under).
DEFAULT_UNROUTED_REASONS: tuple[str, ...] = ("after_hours", "menu_hangup", "refused")
# cti.routing's OperatorState values.
DEFAULT_OPERATOR_STATES: tuple[str, ...] = (
    "offline",
    "available",
    "reserved",
    "on_call",
    "wrap_up",
    "away",
)
# Who an escalation goes to: the contact kinds of the helpdesk config, or anyone else.
DEFAULT_ESCALATION_TARGETS: tuple[str, ...] = ("city", "vendor", "other")
QUEUE_WAIT_BUCKETS: tuple[float, ...] = (5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600)
HANDLE_BUCKETS: tuple[float, ...] = (30, 60, 120, 180, 300, 420, 600, 900, 1200, 1800, 3600)


class UnknownLabelError(ValueError):
    """A label value outside the configured closed set (a programming error)."""

    error_id = "metrics_unknown_label"
    status = 500

    def __init__(self, label: str, value: str, allowed: Iterable[str]) -> None:
        super().__init__(f"{label}={value!r} is not one of {sorted(allowed)}")
        self.label = label
        self.value = value
