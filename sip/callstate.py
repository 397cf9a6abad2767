"""The call state machine: one table, used by every CallControl implementation.

A call is OFFERED (ringing, INVITE received) until answered or gone. ANSWERED means the caller
talks to the service (IVR, queue audio). CONNECTING means an operator leg is ringing while the
caller keeps hearing queue audio; when it fails it goes back to ANSWERED. BRIDGED means caller
and operator hear each other. ENDED is final.
"""

from __future__ import annotations

from enum import StrEnum

from cti.sip.errors import IllegalCallTransitionError


class CallState(StrEnum):
    OFFERED = "offered"
    ANSWERED = "answered"
    CONNECTING = "connecting"
    BRIDGED = "bridged"
    ENDED = "ended"


class Trigger(StrEnum):
    ANSWER = "answer"
    PLAY = "play"
    CONNECT = "connect"
    OPERATOR_ANSWERED = "operator_answered"
    OPERATOR_FAILED = "operator_failed"  # busy/404/no answer/unreachable
    TRANSFER = "transfer"  # the operator transferred the caller: back to waiting
    END = "end"  # any hang-up, cancel or failure


_S = CallState
_T = Trigger

TRANSITIONS: dict[tuple[CallState, Trigger], CallState] = {
    (_S.OFFERED, _T.ANSWER): _S.ANSWERED,
    (_S.OFFERED, _T.END): _S.ENDED,
    (_S.ANSWERED, _T.PLAY): _S.ANSWERED,
    (_S.ANSWERED, _T.CONNECT): _S.CONNECTING,
    (_S.ANSWERED, _T.END): _S.ENDED,
    (_S.CONNECTING, _T.PLAY): _S.CONNECTING,
    (_S.CONNECTING, _T.OPERATOR_ANSWERED): _S.BRIDGED,
    (_S.CONNECTING, _T.OPERATOR_FAILED): _S.ANSWERED,
    (_S.CONNECTING, _T.END): _S.ENDED,
    (_S.BRIDGED, _T.TRANSFER): _S.ANSWERED,
    (_S.BRIDGED, _T.END): _S.ENDED,
}


def next_state(call_id: str, state: CallState, trigger: Trigger) -> CallState:
    """The state after ``trigger``; raises IllegalCallTransitionError when not in the table."""
    try:
        return TRANSITIONS[(state, trigger)]
    except KeyError:
        raise IllegalCallTransitionError(call_id, state.value, trigger.value) from None


def allowed(state: CallState, trigger: Trigger) -> bool:
    return (state, trigger) in TRANSITIONS
