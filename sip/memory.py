"""An in-memory phone network implementing CallControl: no sockets, no clocks, deterministic.

Tests (and the coordinator's tests) play the caller and the operators' phones:

    net = MemoryPhoneNetwork()
    await net.start()
    call_id = net.dial("0355501234")            # -> CallOffered
    await net.answer(call_id)                   # -> CallAnswered
    await net.play(call_id, "greeting")         # playing; finish_playback() -> PlaybackFinished
    net.press(call_id, "1")                     # -> DigitReceived
    net.set_operator("sip:201@example.invalid", OperatorBehaviour.BUSY)
    await net.connect_to_operator(call_id, "sip:201@example.invalid", 20)
    net.caller_hangs_up(call_id)                # -> CallEnded(caller)

Operators default to ``OperatorBehaviour.RING``: the leg rings until the test calls
``operator_answers`` / ``ring_timeout`` / ``operator_rejects``. Time never advances by itself;
``now`` is an injectable clock.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from cti.sip.callstate import CallState, Trigger, next_state
from cti.sip.control import Prompt, SocketHealth, prompt_names
from cti.sip.errors import CallNotFoundError, UnknownPromptError
from cti.sip.events import (
    CallAnswered,
    CallEnded,
    CallEvent,
    CallOffered,
    CallRefused,
    CallTransferred,
    DigitReceived,
    DigitSource,
    EndReason,
    HungUpBy,
    OperatorConnected,
    OperatorFailed,
    OperatorFailure,
    OperatorNoAnswer,
    OperatorRinging,
    PlaybackFinished,
    RegistrationChanged,
    RegistrationState,
)
from cti.sip.stream import EventStream

VALID_DIGITS = frozenset("0123456789*#ABCD")


class OperatorBehaviour(StrEnum):
    RING = "ring"  # rings until the test decides
    ANSWER = "answer"  # answers at once
    NO_ANSWER = "no_answer"  # rings, then the ring timeout fires at once
    BUSY = "busy"
    NOT_FOUND = "not_found"
    UNREACHABLE = "unreachable"


_FAILURE_STATUS: dict[OperatorBehaviour, tuple[OperatorFailure, int | None]] = {
    OperatorBehaviour.BUSY: (OperatorFailure.BUSY, 486),
    OperatorBehaviour.NOT_FOUND: (OperatorFailure.NOT_FOUND, 404),
    OperatorBehaviour.UNREACHABLE: (OperatorFailure.UNREACHABLE, None),
}


@dataclass(slots=True)
class MemoryCall:
    """Inspectable state of one fake call."""

    call_id: str
    caller: str
    called: str
    state: CallState = CallState.OFFERED
    playing: tuple[str, ...] | None = None
    looping: bool = False
    played: list[tuple[str, ...]] = field(default_factory=list)
    operator_uri: str | None = None
    ring_timeout_s: float | None = None


def _utcnow() -> datetime:
    return datetime.now(UTC)


class MemoryPhoneNetwork:
    """CallControl over a fake network. One consumer of ``events()``."""

    def __init__(
        self,
        *,
        now: Callable[[], datetime] = _utcnow,
        prompts: frozenset[str] | None = None,
    ) -> None:
        """``prompts``: the prompt names that exist (None = any name is accepted), so a
        coordinator test catches a prompt the real adapter would refuse."""
        self._now = now
        self._prompts = prompts
        self._stream = EventStream()
        self._calls: dict[str, MemoryCall] = {}
        self._operators: dict[str, OperatorBehaviour] = {}
        self._ids = itertools.count(1)
        self.started = False
        self.ended: dict[str, CallEnded] = {}

    # -- CallControl ---------------------------------------------------------------------
    async def start(self) -> None:
        self.started = True
        self._stream.reopen()
        self._stream.put(RegistrationChanged(RegistrationState.DIRECT, self._now()))

    async def stop(self) -> None:
        for call_id in list(self._calls):
            self._end(call_id, EndReason.SHUTDOWN, HungUpBy.SYSTEM)
        self.started = False
        self._stream.close()

    def events(self) -> AsyncIterator[CallEvent]:
        return self._stream.__aiter__()

    async def answer(self, call_id: str) -> None:
        call = self._call(call_id)
        call.state = next_state(call_id, call.state, Trigger.ANSWER)
        self._stream.put(CallAnswered(call_id, self._now()))

    async def play(self, call_id: str, prompt: Prompt, *, loop: bool = False) -> None:
        call = self._call(call_id)
        names = prompt_names(prompt)
        if self._prompts is not None:
            for name in names:
                builtin = name == "silence" or name.startswith(("tone:", "tts:"))
                if not builtin and name not in self._prompts:
                    raise UnknownPromptError(name)
        call.state = next_state(call_id, call.state, Trigger.PLAY)
        call.playing = names
        call.looping = loop
        call.played.append(names)

    async def stop_playback(self, call_id: str) -> None:
        call = self._call(call_id)
        call.playing = None
        call.looping = False

    async def connect_to_operator(
        self, call_id: str, operator_uri: str, ring_timeout_s: float
    ) -> None:
        call = self._call(call_id)
        call.state = next_state(call_id, call.state, Trigger.CONNECT)
        call.operator_uri = operator_uri
        call.ring_timeout_s = ring_timeout_s
        behaviour = self._operators.get(operator_uri, OperatorBehaviour.RING)
        if behaviour in _FAILURE_STATUS:
            self._operator_failed(call, *_FAILURE_STATUS[behaviour])
            return
        self._stream.put(OperatorRinging(call_id, operator_uri, self._now()))
        if behaviour is OperatorBehaviour.ANSWER:
            self.operator_answers(call_id)
        elif behaviour is OperatorBehaviour.NO_ANSWER:
            self.ring_timeout(call_id)

    async def hangup(self, call_id: str) -> None:
        if call_id in self._calls:
            self._end(call_id, EndReason.HUNG_UP, HungUpBy.SYSTEM)

    def socket_health(self) -> SocketHealth | None:
        """An in-memory network has no socket."""
        return None

    # -- the test's side of the network -------------------------------------------------
    def dial(self, caller: str = "0355501234", called: str = "helpdesk") -> str:
        """A caller dials in: returns the new call_id and emits CallOffered."""
        call_id = f"mem-{next(self._ids)}@example.invalid"
        self._calls[call_id] = MemoryCall(call_id, caller, called)
        self._stream.put(CallOffered(call_id, caller, called, self._now()))
        return call_id

    def refuse(self, reason: str, caller: str = "0355501234", called: str = "helpdesk") -> str:
        """An INVITE the front door answers 503 (``sip.flood.Refusal`` value): no call, only a
        ``CallRefused``. Returns its Call-ID."""
        call_id = f"mem-{next(self._ids)}@example.invalid"
        self._stream.put(CallRefused(call_id, f"z9hG4bK-refused-{next(self._ids)}", caller, called,
                                     self._now(), reason))
        return call_id

    def press(
        self, call_id: str, digits: str, source: DigitSource = DigitSource.RFC2833
    ) -> None:
        call = self._call(call_id)
        for digit in digits:
            if digit not in VALID_DIGITS:
                raise ValueError(f"not a DTMF digit: {digit!r}")
            if call.state is not CallState.OFFERED:  # media flows only once answered
                self._stream.put(DigitReceived(call_id, digit, source, self._now()))

    def finish_playback(self, call_id: str) -> None:
        """The current non-looping playback reaches its end."""
        call = self._call(call_id)
        if call.playing is None or call.looping:
            raise ValueError(f"call {call_id!r} has no finite playback running")
        name = "+".join(call.playing)
        call.playing = None
        self._stream.put(PlaybackFinished(call_id, name, self._now()))

    def caller_hangs_up(self, call_id: str) -> None:
        call = self._call(call_id)
        if call.state is CallState.OFFERED:
            self._end(call_id, EndReason.CALLER_CANCELLED, HungUpBy.CALLER)
        else:
            self._end(call_id, EndReason.CALLER_HUNG_UP, HungUpBy.CALLER)

    def set_operator(self, operator_uri: str, behaviour: OperatorBehaviour) -> None:
        self._operators[operator_uri] = behaviour

    def operator_answers(self, call_id: str) -> None:
        call = self._ringing(call_id)
        call.state = next_state(call_id, call.state, Trigger.OPERATOR_ANSWERED)
        call.playing = None
        call.looping = False
        assert call.operator_uri is not None
        self._stream.put(OperatorConnected(call_id, call.operator_uri, self._now()))

    def ring_timeout(self, call_id: str) -> None:
        call = self._ringing(call_id)
        uri = call.operator_uri
        assert uri is not None
        call.state = next_state(call_id, call.state, Trigger.OPERATOR_FAILED)
        call.operator_uri = None
        self._stream.put(OperatorNoAnswer(call_id, uri, self._now()))

    def operator_rejects(self, call_id: str, sip_status: int = 486) -> None:
        call = self._ringing(call_id)
        reason = {486: OperatorFailure.BUSY, 600: OperatorFailure.BUSY,
                  404: OperatorFailure.NOT_FOUND, 480: OperatorFailure.NOT_FOUND}
        self._operator_failed(call, reason.get(sip_status, OperatorFailure.ERROR), sip_status)

    def operator_hangs_up(self, call_id: str) -> None:
        call = self._call(call_id)
        if call.state is not CallState.BRIDGED:
            raise ValueError(f"call {call_id!r} is not bridged")
        self._end(call_id, EndReason.OPERATOR_HUNG_UP, HungUpBy.OPERATOR)

    def operator_transfers(self, call_id: str, target: str) -> None:
        """The operator presses Transfer (blind REFER to ``target``): the caller waits again."""
        call = self._call(call_id)
        if call.state is not CallState.BRIDGED or call.operator_uri is None:
            raise ValueError(f"call {call_id!r} is not bridged")
        call.state = next_state(call_id, call.state, Trigger.TRANSFER)
        uri, call.operator_uri = call.operator_uri, None
        call.playing, call.looping = ("tone:hold",), True
        self._stream.put(CallTransferred(call_id, uri, target, self._now()))

    def call(self, call_id: str) -> MemoryCall:
        """Inspect a live call (raises CallNotFoundError once ended)."""
        return self._call(call_id)

    @property
    def active_calls(self) -> tuple[str, ...]:
        return tuple(self._calls)

    # -- internals ----------------------------------------------------------------------
    def _call(self, call_id: str) -> MemoryCall:
        try:
            return self._calls[call_id]
        except KeyError:
            raise CallNotFoundError(call_id) from None

    def _ringing(self, call_id: str) -> MemoryCall:
        call = self._call(call_id)
        if call.state is not CallState.CONNECTING:
            raise ValueError(f"call {call_id!r} has no ringing operator leg")
        return call

    def _operator_failed(
        self, call: MemoryCall, reason: OperatorFailure, status: int | None
    ) -> None:
        uri = call.operator_uri
        assert uri is not None
        call.state = next_state(call.call_id, call.state, Trigger.OPERATOR_FAILED)
        call.operator_uri = None
        self._stream.put(OperatorFailed(call.call_id, uri, reason, status, self._now()))

    def _end(self, call_id: str, reason: EndReason, by: HungUpBy) -> None:
        call = self._calls.pop(call_id)
        call.state = next_state(call_id, call.state, Trigger.END)
        event = CallEnded(call_id, reason, by, self._now())
        self.ended[call_id] = event
        self._stream.put(event)
