"""What a call's timeline says about its ticket. Pure: a timeline in, ticket facts out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

# The call events that become part of a ticket, in the order a call usually produces them.
EVENT_KINDS: Final = frozenset(
    {
        "offered",  # caller reached us: data caller_hash, caller_display, sip_call_id
        "after_hours",  # closed announcement played: data reason_code
        "incident_message",  # supervisor's incident message played: data incident_id
        "service_selected",  # data service, digit
        "queued",  # data service, position
        "overflowed",  # data level
        "operator_offered",  # data operator_id
        "operator_missed",  # data operator_id, reason
        "connected",  # data operator_id
        "callback_requested",  # caller chose a callback instead of waiting
        "moved",  # supervisor moved the call: data service
        "transferred",  # the operator's phone transferred it: from_operator, to_operator, to_service
        "ended",  # data reason, hung_up_by (caller|operator|system); recovered, last_state;
        # reason "refused" with refusal (rate|capacity|saturated|rtp_ports) for a 503
        # when the service closed it at start-up (see cti.tickets.recovery)
    }
)

OUTCOMES: Final = (
    "answered",
    "abandoned_ivr",
    "abandoned_queue",
    "after_hours",
    "callback_requested",
    "deflected",
    "interrupted",
    "unconfirmed",  # our 200 OK was never acknowledged (Timer H): no real call took place
    "refused",  # answered 503 before it became a call (flood, capacity, saturation, RTP ports)
)


@dataclass(frozen=True, slots=True)
class CallRecordEvent:
    """One thing that happened to a call, as it is journalled and stored."""

    call_id: str
    seq: int
    at: datetime
    kind: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"unknown call event kind {self.kind!r}")
        if self.at.tzinfo is None:
            raise ValueError("call events need timezone-aware times")

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "seq": self.seq,
            "at": self.at.isoformat(),
            "kind": self.kind,
            "data": dict(self.data),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> CallRecordEvent:
        return cls(
            str(raw["call_id"]),
            int(raw["seq"]),
            datetime.fromisoformat(raw["at"]),
            str(raw["kind"]),
            dict(raw.get("data") or {}),
        )


@dataclass(frozen=True, slots=True)
class TicketFacts:
    received_at: datetime
    caller_hash: str | None
    caller_display: str | None
    sip_call_id: str | None
    service: str | None
    operator_id: str | None
    answered_at: datetime | None
    ended_at: datetime | None
    outcome: str | None  # None while the call is still going
    hung_up_by: str | None
    wait_seconds: float | None
    talk_seconds: float | None


def derive(timeline: Sequence[CallRecordEvent]) -> TicketFacts:
    """The ticket's facts from the whole timeline (sorted by ``seq``; duplicates ignored)."""
    events = sorted({e.seq: e for e in timeline}.values(), key=lambda e: e.seq)
    if not events:
        raise ValueError("an empty timeline describes no call")
    first: dict[str, CallRecordEvent] = {}
    last: dict[str, CallRecordEvent] = {}
    service: str | None = None
    for event in events:
        first.setdefault(event.kind, event)
        last[event.kind] = event
        if event.kind in ("service_selected", "queued", "moved") and event.data.get("service"):
            service = str(event.data["service"])
    offered = first.get("offered")
    connected, ended, queued = last.get("connected"), last.get("ended"), first.get("queued")
    real_end = [e for e in events if e.kind == "ended" and not e.data.get("recovered")]
    if real_end:  # a recorded end wins over the one a takeover wrote without knowing it
        ended = real_end[-1]
    received_at = (offered or events[0]).at
    wait_end = connected.at if connected else (ended.at if ended else None)
    return TicketFacts(
        received_at=received_at,
        caller_hash=_text(offered, "caller_hash"),
        caller_display=_text(offered, "caller_display"),
        sip_call_id=_text(offered, "sip_call_id"),
        service=service,
        # The operator who answered; until then the one it is ringing (their screen pop opens it).
        operator_id=_text(connected or last.get("operator_offered"), "operator_id"),
        answered_at=connected.at if connected else None,
        ended_at=ended.at if ended else None,
        outcome=_outcome(first, ended) if ended else None,
        hung_up_by=_text(ended, "hung_up_by"),
        wait_seconds=_seconds(queued.at, wait_end) if queued and wait_end else None,
        talk_seconds=_seconds(connected.at, ended.at) if connected and ended else None,
    )


def automatic_status(current: str, facts: TicketFacts, kinds: frozenset[str]) -> str:
    """Where call events move a ticket: only ever out of ``new``, never over an operator's choice."""
    if current != "new":
        return current
    if "connected" in kinds:
        return "in_progress"
    if facts.outcome == "callback_requested" or (
            facts.outcome == "interrupted" and "callback_requested" in kinds):
        return "callback_requested"  # a callback to do, even if the service died meanwhile
    if facts.outcome in ("abandoned_ivr", "deflected", "unconfirmed", "refused"):
        return "closed"
    return current


def _outcome(first: Mapping[str, CallRecordEvent], ended: CallRecordEvent) -> str:
    if ended.data.get("recovered"):
        return "interrupted"  # closed at start-up: the end was never recorded (crash)
    if ended.data.get("reason") == "no_ack":
        return "unconfirmed"
    if ended.data.get("reason") == "refused":
        return "refused"
    if "connected" in first:
        return "answered"
    if "after_hours" in first:
        return "after_hours"
    if "callback_requested" in first:
        return "callback_requested"
    if ended.data.get("hung_up_by") == "system":
        return "interrupted"  # the service ended it (shutdown, media lost, protocol failure)
    if "queued" in first:
        return "abandoned_queue"
    if "incident_message" in first:
        return "deflected"  # heard the incident message and hung up before choosing
    return "abandoned_ivr"


def _text(event: CallRecordEvent | None, key: str) -> str | None:
    if event is None or event.data.get(key) is None:
        return None
    return str(event.data[key])


def _seconds(start: datetime, end: datetime) -> float:
    return max(0.0, round((end - start).total_seconds(), 3))
