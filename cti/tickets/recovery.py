"""What a call was doing when its end went unrecorded (crash, power loss, SIGKILL). Pure.

At start-up, before the service takes calls, every call without an ``ended`` event is closed by
an ``ended`` event that says so (``recovered: true``, hung up by ``system``): its outcome becomes
``interrupted`` and its ``last_state`` (in the IVR, waiting in which queue, ringing or connected
to which operator, callback requested) stays on the timeline for whoever picks it up. A caller
who asked for a callback keeps the ticket status ``callback_requested``: a callback to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cti.clock import wire_time
from cti.tickets.rules import CallRecordEvent

RECOVERED_REASON = "service_restarted"


def last_state(timeline: Sequence[CallRecordEvent]) -> dict[str, Any]:
    """Where the call stood at its last recorded event."""
    state: dict[str, Any] = {"state": "in_ivr"}
    for event in sorted(timeline, key=lambda e: e.seq):
        data = event.data
        service = data.get("service") or state.get("service")
        match event.kind:
            case "after_hours":
                state = {"state": "after_hours_message"}
            case "service_selected":
                state = {"state": "in_ivr", "service": service}
            case "queued" | "moved" | "operator_missed":
                state = {"state": "waiting", "service": service}
            case "overflowed":
                state = {**state, "overflow_level": data.get("level")}
            case "operator_offered":
                state = {"state": "ringing_operator", "service": service,
                         "operator_id": data.get("operator_id")}
            case "connected":
                state = {"state": "connected", "service": service,
                         "operator_id": data.get("operator_id")}
            case "callback_requested":
                state = {"state": "callback_requested", "service": service,
                         "reachable": data.get("reachable")}
    return {k: v for k, v in state.items() if v is not None}


def owner(timeline: Sequence[CallRecordEvent]) -> str | None:
    """The node that took the call (HA pair; its ``offered`` event says), None before HA."""
    for event in timeline:
        if event.kind == "offered":
            node = event.data.get("node")
            return str(node) if node else None
    return None


def closing_event(timeline: Sequence[CallRecordEvent], detected_at: datetime,
                  *, seq_gap: int = 1) -> CallRecordEvent:
    """The ``ended`` event that closes an unfinished call.

    Its time is the last recorded event's (the call cannot have lasted less; the true end is
    unknown), so wait and talk times are not inflated by the outage; ``detected_at`` says when
    the service noticed. A node that closes another node's calls (HA takeover) leaves a
    ``seq_gap``: events the dead node journalled but had not stored yet keep their own numbers
    when it comes back and applies them, and a real end among them wins (``rules.derive``).
    """
    last = max(timeline, key=lambda e: e.seq)
    return CallRecordEvent(last.call_id, last.seq + seq_gap, last.at, "ended", {
        "reason": RECOVERED_REASON, "hung_up_by": "system", "recovered": True,
        "detected_at": wire_time(detected_at, UTC), "last_state": last_state(timeline),
    })
