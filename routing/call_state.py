"""The call state machine: every allowed transition lives in this one table.

ivr -> queued -> offered -> connected -> ended (connected -> queued again when the
operator hands the call over to someone else), with the terminal exits
abandoned (caller hung up before talking), overflowed (routing gave up
waiting: the caller is offered a callback/voicemail and a ticket with status
"callback requested" is written) and voicemail (the caller chose the
callback/voicemail themselves while waiting).

A terminal state has no outgoing transitions, so a call ends exactly once.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from .errors import IllegalTransition


class CallState(StrEnum):
    IVR = "ivr"
    QUEUED = "queued"
    OFFERED = "offered"
    CONNECTED = "connected"
    ENDED = "ended"
    ABANDONED = "abandoned"
    OVERFLOWED = "overflowed"
    VOICEMAIL = "voicemail"


_S = CallState

CALL_TRANSITIONS: Final[dict[CallState, frozenset[CallState]]] = {
    _S.IVR: frozenset({_S.QUEUED, _S.ABANDONED, _S.OVERFLOWED, _S.VOICEMAIL}),
    _S.QUEUED: frozenset({_S.OFFERED, _S.ABANDONED, _S.OVERFLOWED, _S.VOICEMAIL}),
    # offered -> queued: every rung operator missed, failed or was withdrawn
    _S.OFFERED: frozenset({_S.CONNECTED, _S.QUEUED, _S.ABANDONED, _S.VOICEMAIL}),
    # connected -> queued: the operator handed the call over (transfer); it waits again
    _S.CONNECTED: frozenset({_S.ENDED, _S.QUEUED}),
    _S.ENDED: frozenset(),
    _S.ABANDONED: frozenset(),
    _S.OVERFLOWED: frozenset(),
    _S.VOICEMAIL: frozenset(),
}

TERMINAL_CALL_STATES: Final[frozenset[CallState]] = frozenset(
    state for state, targets in CALL_TRANSITIONS.items() if not targets
)

#: Calls in these states are "waiting" (shown in the queue views).
WAITING_CALL_STATES: Final[frozenset[CallState]] = frozenset({_S.QUEUED, _S.OFFERED})


def check_call_transition(call_id: str, old: CallState, new: CallState) -> CallState:
    """Return `new` if the table allows `old -> new`, else raise `IllegalTransition`."""
    if new not in CALL_TRANSITIONS[old]:
        raise IllegalTransition("call", call_id, old, new)
    return new
