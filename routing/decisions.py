"""Decisions out of the router: frozen, slotted dataclasses with no behaviour.

cti turns them into SIP commands, ticket writes, screen pops and metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

from .events import Event


@dataclass(frozen=True, slots=True)
class Enqueue:
    """The call waits in `service` at `position` (1 = next).

    `reason`: arrived, requeued (every offer failed), moved (by a supervisor),
    transferred (its operator handed it back to a queue).
    """

    call_id: str
    service: str
    position: int
    reason: str = "arrived"


@dataclass(frozen=True, slots=True)
class Offer:
    """Ring `operator_id` for this call and pop the screen.

    `level` is the overflow level the call had when offered (0 = primary
    operators); `taken` is true when a supervisor took the call.
    """

    call_id: str
    operator_id: str
    service: str
    waited_s: float
    caller_tag: str
    priority: int
    level: int
    taken: bool = False


@dataclass(frozen=True, slots=True)
class CancelOffer:
    """Stop ringing `operator_id` (`reason`: ring_timeout, answered_elsewhere,
    caller_hung_up, operator_state, callback_accepted)."""

    call_id: str
    operator_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Connect:
    call_id: str
    operator_id: str
    service: str
    waited_s: float


@dataclass(frozen=True, slots=True)
class Announce:
    """Tell the caller their position and expected wait."""

    call_id: str
    position: int
    expected_wait_s: float


@dataclass(frozen=True, slots=True)
class Overflow:
    """The call now reaches more operators (1: lower proficiency, 2: anyone logged in)."""

    call_id: str
    level: int


@dataclass(frozen=True, slots=True)
class OfferCallback:
    """Stop waiting: offer the caller a callback/voicemail and write a ticket with
    status "callback requested" (`reason`: max_wait, no_skilled_operator)."""

    call_id: str
    reason: str
    waited_s: float


@dataclass(frozen=True, slots=True)
class Abandon:
    """The caller hung up before talking (`stage`: ivr, queued, ringing)."""

    call_id: str
    stage: str
    waited_s: float


@dataclass(frozen=True, slots=True)
class CallClosed:
    """The call reached its terminal state `outcome` (a `CallState` value).

    Emitted exactly once per call; the place for the canonical end-of-call line.
    """

    call_id: str
    outcome: str
    service: str
    operator_id: str | None
    waited_s: float


@dataclass(frozen=True, slots=True)
class OperatorStateChanged:
    operator_id: str
    old: str
    new: str
    reason: str


@dataclass(frozen=True, slots=True)
class OperatorStatePending:
    """The requested state will apply when the operator's current call and wrap-up end."""

    operator_id: str
    state: str
    reason: str


@dataclass(frozen=True, slots=True)
class WrapUpScheduled:
    operator_id: str
    ends_at: float
    extended: bool


@dataclass(frozen=True, slots=True)
class NotifySupervisor:
    """Something a supervisor should see (`kind`: missed_calls, incident_priority,
    no_skilled_operator)."""

    kind: str
    operator_id: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class Rejected:
    """Bad input: the event was ignored and the router's state is unchanged."""

    event: Event
    error_id: str
    detail: str


Decision = (
    Enqueue
    | Offer
    | CancelOffer
    | Connect
    | Announce
    | Overflow
    | OfferCallback
    | Abandon
    | CallClosed
    | OperatorStateChanged
    | OperatorStatePending
    | WrapUpScheduled
    | NotifySupervisor
    | Rejected
)
