"""Events into the router: frozen, slotted dataclasses with no behaviour.

cti turns SIP call events, operator/supervisor API requests and IVR choices
into these and passes them to `Router.handle(event, now)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FailReason(StrEnum):
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    UNREACHABLE = "unreachable"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class CallArrived:
    """A caller finished the IVR menu and wants `service`.

    `caller_tag` is an opaque hashed caller id, compared with the priority list.
    """

    call_id: str
    service: str
    caller_tag: str = ""


@dataclass(frozen=True, slots=True)
class CallerHungUp:
    call_id: str


@dataclass(frozen=True, slots=True)
class OfferAnswered:
    """The offered operator's phone answered: the call is connected."""

    call_id: str
    operator_id: str


@dataclass(frozen=True, slots=True)
class OfferFailed:
    """Ringing the operator failed (`reason`: a `FailReason` value)."""

    call_id: str
    operator_id: str
    reason: str = FailReason.NO_ANSWER


@dataclass(frozen=True, slots=True)
class CallFinished:
    """The conversation ended; the operator goes to wrap-up."""

    call_id: str


@dataclass(frozen=True, slots=True)
class OperatorStateRequested:
    """An operator (or a supervisor, `by_supervisor`) asks for available, away or offline."""

    operator_id: str
    state: str
    reason: str = ""
    by_supervisor: bool = False


@dataclass(frozen=True, slots=True)
class WrapUpExtended:
    """The operator extends the current wrap-up (once per wrap-up)."""

    operator_id: str


@dataclass(frozen=True, slots=True)
class CallMoved:
    """A supervisor moves a waiting call to another service."""

    call_id: str
    service: str


@dataclass(frozen=True, slots=True)
class CallTaken:
    """A supervisor takes a waiting call for `operator_id` (skills are not checked)."""

    call_id: str
    operator_id: str


@dataclass(frozen=True, slots=True)
class IncidentPriority:
    """A supervisor-declared incident: calls of `service` get `delta` added to their
    priority (replacing any earlier delta; 0 ends the incident)."""

    service: str
    delta: int


@dataclass(frozen=True, slots=True)
class CallHandedOver:
    """The connected operator hands the call over (a transfer from their phone): to another
    operator (`operator_id`, rung directly, skills not checked) or back to the queue of
    `service` (None: the call's own). The first operator goes to wrap-up."""

    call_id: str
    operator_id: str | None = None
    service: str | None = None


@dataclass(frozen=True, slots=True)
class CallbackAccepted:
    """The waiting caller chose a callback/voicemail instead of waiting."""

    call_id: str


@dataclass(frozen=True, slots=True)
class OperatorConfigured:
    """An operator was added or their skills changed while the service runs (the admin view).

    `skills` is (service id, proficiency 1..5) pairs; they replace the operator's earlier
    skills. A new operator starts offline."""

    operator_id: str
    skills: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class OperatorRemoved:
    """An operator was deactivated: logged off and forgotten. Refused while they are ringing,
    talking or in wrap-up."""

    operator_id: str


Event = (
    CallArrived
    | CallerHungUp
    | OfferAnswered
    | OfferFailed
    | CallFinished
    | OperatorStateRequested
    | WrapUpExtended
    | CallMoved
    | CallTaken
    | IncidentPriority
    | CallbackAccepted
    | OperatorConfigured
    | OperatorRemoved
    | CallHandedOver
)
