"""Call events: what the SIP front door tells the rest of the service.

Frozen, slotted dataclasses with no behaviour; consumers handle them with ``match``. Every event
carries the wall-clock time ``at`` (timezone-aware UTC) at which the front door observed it.
``ServiceSelected`` and ``Queued`` are emitted by the coordinator (cti/), not by this package, so
they are not defined here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class DigitSource(StrEnum):
    RFC2833 = "rfc2833"  # RTP telephone-event (RFC 2833 / RFC 4733)
    INFO = "info"  # SIP INFO application/dtmf-relay


class HungUpBy(StrEnum):
    CALLER = "caller"
    OPERATOR = "operator"
    SYSTEM = "system"  # this service (or a failure) ended the call


class EndReason(StrEnum):
    CALLER_HUNG_UP = "caller_hung_up"  # BYE from the caller after answer
    CALLER_CANCELLED = "caller_cancelled"  # CANCEL before we answered
    OPERATOR_HUNG_UP = "operator_hung_up"  # BYE from the operator's phone while bridged
    HUNG_UP = "hung_up"  # the coordinator asked for hangup()
    MEDIA_TIMEOUT = "media_timeout"  # no RTP from the caller for too long
    SHUTDOWN = "shutdown"  # service stopping
    ERROR = "error"  # a protocol failure ended the call
    NO_ACK = "no_ack"  # our 200 OK was never acknowledged (Timer H): no real call took place
    SESSION_EXPIRED = "session_expired"  # RFC 4028: the session was not refreshed in time


class OperatorFailure(StrEnum):
    BUSY = "busy"  # 486/600
    NOT_FOUND = "not_found"  # 404/604/480
    UNREACHABLE = "unreachable"  # no response at all / ICMP error
    ERROR = "error"  # any other 4xx/5xx/6xx


class RegistrationState(StrEnum):
    DIRECT = "direct"  # direct mode: no registrar, always "up"
    REGISTERING = "registering"
    REGISTERED = "registered"
    FAILED = "failed"  # will retry
    UNREGISTERED = "unregistered"  # stopped


@dataclass(frozen=True, slots=True)
class CallOffered:
    call_id: str
    caller: str  # raw From user part (number) as the caller's network sent it
    called: str  # Request-URI / To user part
    at: datetime
    caller_display: str = ""


@dataclass(frozen=True, slots=True)
class CallRefused:
    """An INVITE answered 503 before it became a call (flood, capacity, saturation, no RTP
    port): no ``CallOffered`` or ``CallEnded`` follows, but the refusal deserves a record.
    ``call_id`` is the INVITE's Call-ID, ``branch`` its Via branch (a retry after Retry-After
    may reuse the Call-ID), both raw wire values."""

    call_id: str
    branch: str
    caller: str
    called: str
    at: datetime
    reason: str  # sip.flood.Refusal value
    caller_display: str = ""


@dataclass(frozen=True, slots=True)
class CallAnswered:
    call_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class DigitReceived:
    call_id: str
    digit: str  # one of 0-9 * # A-D
    source: DigitSource
    at: datetime


@dataclass(frozen=True, slots=True)
class PlaybackFinished:
    """A non-looping ``play()`` reached the end of its last prompt (not sent when stopped)."""

    call_id: str
    prompt: str  # the prompt names joined with "+"
    at: datetime


@dataclass(frozen=True, slots=True)
class OperatorRinging:
    call_id: str
    operator_uri: str
    at: datetime


@dataclass(frozen=True, slots=True)
class OperatorConnected:
    call_id: str
    operator_uri: str
    at: datetime


@dataclass(frozen=True, slots=True)
class OperatorNoAnswer:
    """The ring timeout expired; the operator leg was cancelled. The caller's call goes on."""

    call_id: str
    operator_uri: str
    at: datetime


@dataclass(frozen=True, slots=True)
class OperatorFailed:
    """The operator leg failed before answer. The caller's call goes on."""

    call_id: str
    operator_uri: str
    reason: OperatorFailure
    sip_status: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class CallTransferred:
    """The operator's phone transferred the caller (REFER, blind): the operator leg is gone,
    the caller hears the hold tone and waits to be connected to ``target`` (a SIP URI: another
    operator's phone or a service queue such as ``sip:queue-<service>@host``)."""

    call_id: str
    operator_uri: str
    target: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CallEnded:
    """Final event of a call: after it the call_id is unknown to the CallControl."""

    call_id: str
    reason: EndReason
    hung_up_by: HungUpBy
    at: datetime


@dataclass(frozen=True, slots=True)
class RegistrationChanged:
    state: RegistrationState
    at: datetime
    detail: str = ""


CallEvent = (
    CallOffered
    | CallRefused
    | CallAnswered
    | DigitReceived
    | PlaybackFinished
    | OperatorRinging
    | OperatorConnected
    | OperatorNoAnswer
    | OperatorFailed
    | CallTransferred
    | CallEnded
    | RegistrationChanged
)

__all__ = [
    "CallAnswered",
    "CallEnded",
    "CallEvent",
    "CallOffered",
    "CallRefused",
    "CallTransferred",
    "DigitReceived",
    "DigitSource",
    "EndReason",
    "HungUpBy",
    "OperatorConnected",
    "OperatorFailed",
    "OperatorFailure",
    "OperatorNoAnswer",
    "OperatorRinging",
    "PlaybackFinished",
    "RegistrationChanged",
    "RegistrationState",
]
