"""Named errors of the routing package.

`IllegalTransition` signals a bug inside routing (a state table was asked for a
move it does not allow); bad input from outside never raises, it produces a
`Rejected` decision with one of the `RejectionReason` ids instead.
"""

from __future__ import annotations

from enum import StrEnum


class RoutingError(Exception):
    """Base class; every routing error carries a stable `error_id`."""

    error_id = "routing_error"


class IllegalTransition(RoutingError):
    """A state machine was asked for a transition its table does not allow."""

    error_id = "illegal_transition"

    def __init__(self, machine: str, subject: str, old: str, new: str) -> None:
        self.machine = machine
        self.subject = subject
        self.old = old
        self.new = new
        super().__init__(f"{machine} {subject!r}: illegal transition {old} -> {new}")


class InvalidRoutingRules(RoutingError, ValueError):
    """The routing configuration is inconsistent; `key` names the offending setting."""

    error_id = "invalid_routing_rules"

    def __init__(self, key: str, expected: str) -> None:
        self.key = key
        self.expected = expected
        super().__init__(f"routing rules: {key}: expected {expected}")


class RejectionReason(StrEnum):
    """Why an input event was rejected (the `error_id` of a `Rejected` decision)."""

    UNKNOWN_EVENT = "unknown_event"
    UNKNOWN_CALL = "unknown_call"
    UNKNOWN_OPERATOR = "unknown_operator"
    UNKNOWN_SERVICE = "unknown_service"
    UNKNOWN_STATE = "unknown_state"
    DUPLICATE_CALL = "duplicate_call"
    CALL_CLOSED = "call_closed"
    CALL_NOT_OFFERED = "call_not_offered"
    CALL_NOT_CONNECTED = "call_not_connected"
    CALL_NOT_WAITING = "call_not_waiting"
    OPERATOR_BUSY = "operator_busy"
    OPERATOR_OFFLINE = "operator_offline"
    STATE_NOT_REQUESTABLE = "state_not_requestable"
    NO_CHANGE = "no_change"
    NOT_IN_WRAP_UP = "not_in_wrap_up"
    WRAP_UP_ALREADY_EXTENDED = "wrap_up_already_extended"
    NO_SKILLED_OPERATOR = "no_skilled_operator"
    INVALID_SKILL = "invalid_skill"
