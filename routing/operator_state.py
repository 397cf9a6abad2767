"""The operator state machine: every allowed transition lives in this one table.

offline -> available -> reserved (ringing) -> on_call -> wrap_up -> available,
plus away (with a reason: break, meeting, training, missed_calls, ...).

Rules that the table encodes (and the router relies on):

* on_call can only go to wrap_up: wrap-up is never skipped.
* away is only ever left by an explicit state request or a supervisor taking a
  call for that operator (away -> reserved); never by the end of a call.
* reserved is always left (answer, failure, timeout, cancel): nobody stays
  stuck ringing.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from .errors import IllegalTransition


class OperatorState(StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    RESERVED = "reserved"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    AWAY = "away"


_S = OperatorState

OPERATOR_TRANSITIONS: Final[dict[OperatorState, frozenset[OperatorState]]] = {
    _S.OFFLINE: frozenset({_S.AVAILABLE, _S.AWAY}),
    _S.AVAILABLE: frozenset({_S.RESERVED, _S.AWAY, _S.OFFLINE}),
    # answered / released (back to available or to a pending away) / missed
    # too often / logged off while ringing
    _S.RESERVED: frozenset({_S.ON_CALL, _S.AVAILABLE, _S.AWAY, _S.OFFLINE}),
    _S.ON_CALL: frozenset({_S.WRAP_UP}),
    _S.WRAP_UP: frozenset({_S.AVAILABLE, _S.AWAY, _S.OFFLINE}),
    # away -> away changes the reason; away -> reserved: a supervisor takes a call
    _S.AWAY: frozenset({_S.AVAILABLE, _S.AWAY, _S.OFFLINE, _S.RESERVED}),
}

#: States an operator (or a supervisor for them) may ask for directly.
REQUESTABLE_STATES: Final[frozenset[OperatorState]] = frozenset(
    {_S.AVAILABLE, _S.AWAY, _S.OFFLINE}
)


def check_operator_transition(
    operator_id: str, old: OperatorState, new: OperatorState
) -> OperatorState:
    """Return `new` if the table allows `old -> new`, else raise `IllegalTransition`."""
    if new not in OPERATOR_TRANSITIONS[old]:
        raise IllegalTransition("operator", operator_id, old, new)
    return new
