"""The sans-IO router: events and timer ticks in, decisions out.

    router = Router(rules)
    decisions = router.handle(CallArrived("c1", "portal", tag), now)
    ...
    deadline = router.next_deadline()      # wake me then
    decisions = router.handle_timer(now)   # at or after the deadline

No awaiting, no clock, no I/O: `now` is a monotonic time in seconds supplied by
the caller. Ask `next_deadline()` again after every `handle`/`handle_timer`
(decisions move it) and call `handle_timer(now)` once `now >= deadline`. Bad
input (unknown ids, duplicates, events out of order) yields a single `Rejected`
decision and leaves the state as it was.

Pass a logger (e.g. `structlog.get_logger("cti.routing").bind()`) to choose
where decisions are logged; each decision is logged under a stable name
(`routing.offer`, `routing.connect`, ...; `routing.rejected` at warning).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Final, get_args

import structlog

from . import roster
from .call_state import WAITING_CALL_STATES, CallState
from .decisions import (
    Announce,
    Decision,
    Enqueue,
    NotifySupervisor,
    OperatorStatePending,
    Overflow,
    Rejected,
    WrapUpScheduled,
)
from .errors import RejectionReason as R
from .events import (
    CallArrived,
    CallbackAccepted,
    CallerHungUp,
    CallFinished,
    CallHandedOver,
    CallMoved,
    CallTaken,
    Event,
    IncidentPriority,
    OfferAnswered,
    OfferFailed,
    OperatorConfigured,
    OperatorRemoved,
    OperatorStateRequested,
    WrapUpExtended,
)
from .floor import Floor
from .operator_state import REQUESTABLE_STATES, OperatorState
from .records import CallRecord, OperatorRecord
from .rules import RoutingRules
from .views import CallView, OperatorView, QueueCount, QueueView, WaitingCallView

_OP = OperatorState
_CALL = CallState


class _Reject(Exception):  # internal control flow, never escapes
    def __init__(self, error_id: R, detail: str) -> None:
        self.error_id, self.detail = error_id, detail


def _log_name(kind: type) -> str:
    name = kind.__name__
    return "routing." + "".join("_" + c.lower() if c.isupper() else c for c in name)[1:]


#: Per decision type: the stable log event name, its level and its fields. Chatty,
#: per-caller bookkeeping goes to debug; what a person would look for goes to info.
_LOG_PLAN: Final[dict[type, tuple[str, str, tuple[str, ...]]]] = {
    kind: (
        _log_name(kind),
        "debug" if kind in (Announce, Enqueue, Overflow, WrapUpScheduled) else "info",
        tuple(f.name for f in fields(kind)),
    )
    for kind in get_args(Decision)
    if kind is not Rejected
}


class Router:
    def __init__(self, rules: RoutingRules, logger: Any = None) -> None:
        self._floor = Floor(rules)
        self._log = logger if logger is not None else structlog.get_logger("cti.routing")

    # -- entry points ----------------------------------------------------------

    def handle(self, event: Event, now: float) -> list[Decision]:
        floor = self._floor
        floor.out = []
        try:
            self._apply(event, now)
        except _Reject as rejection:
            if floor.out:  # validation runs before any move; anything else is a bug
                raise RuntimeError(f"rejection after a move: {event!r}") from None
            decision = Rejected(event, rejection.error_id, rejection.detail)
            self._log.warning("routing.rejected", event_type=type(event).__name__,
                              error_id=decision.error_id, detail=decision.detail)
            return [decision]
        return self._settle(now)

    def handle_timer(self, now: float) -> list[Decision]:
        floor = self._floor
        floor.out = []
        # Each owner fires at most once per call (its handler reschedules it past
        # `now`); the bound turns a bug that would spin forever into a loud error.
        budget = 2 * (len(floor.calls) + len(floor.operators)) + 16
        while (owner := floor.deadlines.pop_due(now)) is not None:
            budget -= 1
            if budget < 0:
                raise RuntimeError(f"routing: deadline {owner} keeps firing at {now}")
            kind, ident = owner
            if kind == "call":
                floor.call_due(floor.calls[ident], now)
            else:
                floor.operator_due(floor.operators[ident], now)
        return self._settle(now)

    def next_deadline(self) -> float | None:
        return self._floor.deadlines.next()

    def _settle(self, now: float) -> list[Decision]:
        floor = self._floor
        if floor.coverage_dirty:
            floor.check_coverage(now)
        floor.dispatch(now)
        out, floor.out = floor.out, []
        log = self._log
        for decision in out:
            name, level, names = _LOG_PLAN[type(decision)]
            getattr(log, level)(name, **{f: getattr(decision, f) for f in names})
        return out

    # -- events ------------------------------------------------------------------

    def _apply(self, event: Event, now: float) -> None:
        floor = self._floor
        match event:
            case CallArrived(call_id, service, caller_tag):
                if call_id in floor.calls or call_id in floor.closed:
                    raise _Reject(R.DUPLICATE_CALL, f"call {call_id} already arrived")
                self._service(service)
                rules = floor.rules
                boost = rules.priority_caller_boost if caller_tag in rules.priority_callers else 0
                call = CallRecord(call_id, service, caller_tag, boost, floor.next_seq(), now)
                floor.calls[call_id] = call
                if not floor.skilled_logged_in(service):
                    floor.offer_callback(call, now, "no_skilled_operator")
                    floor.out.append(NotifySupervisor(
                        "no_skilled_operator", None,
                        f"service {service}: nobody with the skill is logged in"))
                else:
                    floor.queue(call, now, "arrived")
            case CallerHungUp(call_id):
                call = self._call(call_id)
                if call.state is _CALL.CONNECTED:
                    floor.finish(call, now)
                else:
                    floor.abandon(call, now)
            case OfferAnswered(call_id, operator_id):
                call, op = self._offered(call_id, operator_id)
                floor.connect(call, op, now)
            case OfferFailed(call_id, operator_id, _):
                call, op = self._offered(call_id, operator_id)
                floor.release(call, op, now, f"offer_failed:{event.reason}",
                              missed=True, cancel=False)
                if not call.offered_to:
                    floor.queue(call, now, "requeued")
            case CallFinished(call_id):
                call = self._call(call_id)
                if call.state is not _CALL.CONNECTED:
                    raise _Reject(R.CALL_NOT_CONNECTED, f"call {call_id} is {call.state}")
                floor.finish(call, now)
            case OperatorStateRequested():
                self._request_state(event, now)
            case WrapUpExtended(operator_id):
                op = self._operator(operator_id)
                if op.state is not _OP.WRAP_UP or op.wrap_up_ends_at is None:
                    raise _Reject(R.NOT_IN_WRAP_UP, f"operator {operator_id} is {op.state}")
                if op.wrap_up_extended:
                    raise _Reject(R.WRAP_UP_ALREADY_EXTENDED,
                                  f"operator {operator_id} already extended this wrap-up")
                assert op.wrap_up_service is not None
                op.wrap_up_ends_at += floor.services[op.wrap_up_service].extension_s
                op.wrap_up_extended = True
                floor.deadlines.schedule(("operator", operator_id), op.wrap_up_ends_at)
                floor.out.append(WrapUpScheduled(operator_id, op.wrap_up_ends_at, True))
            case CallMoved(call_id, service):
                self._move(call_id, service, now)
            case CallTaken(call_id, operator_id):
                call = self._waiting_call(call_id)
                op = self._operator(operator_id)
                if op.state is _OP.OFFLINE:
                    raise _Reject(R.OPERATOR_OFFLINE, f"operator {operator_id} is offline")
                if op.state not in (_OP.AVAILABLE, _OP.AWAY):
                    raise _Reject(R.OPERATOR_BUSY, f"operator {operator_id} is {op.state}")
                if op.state is _OP.AWAY:
                    op.pending = (_OP.AWAY, op.reason)
                floor.offer(call, [op], now, taken=True)
            case IncidentPriority(service, delta):
                self._service(service)
                if floor.priority_delta[service] == delta:
                    raise _Reject(R.NO_CHANGE, f"service {service} already has delta {delta}")
                floor.priority_delta[service] = delta
                floor.out.append(NotifySupervisor(
                    "incident_priority", None, f"service {service}: priority delta {delta}"))
            case CallbackAccepted(call_id):
                call = self._call(call_id)
                if call.state not in (_CALL.IVR, _CALL.QUEUED, _CALL.OFFERED):
                    raise _Reject(R.CALL_NOT_WAITING, f"call {call_id} is {call.state}")
                floor.voicemail(call, now)
            case OperatorConfigured() | OperatorRemoved():
                self._roster(event, now)
            case CallHandedOver():
                self._hand_over(event, now)
            case _:
                raise _Reject(R.UNKNOWN_EVENT, f"not a routing event: {type(event).__name__}")

    def _request_state(self, event: OperatorStateRequested, now: float) -> None:
        floor = self._floor
        op = self._operator(event.operator_id)
        try:
            target = OperatorState(event.state)
        except ValueError:
            raise _Reject(R.UNKNOWN_STATE, f"no operator state {event.state!r}") from None
        if target not in REQUESTABLE_STATES:
            raise _Reject(R.STATE_NOT_REQUESTABLE, f"{target} cannot be requested")
        reason = event.reason or ("supervisor" if event.by_supervisor else "requested")
        wanted = (target, reason)
        match op.state:
            case _OP.OFFLINE | _OP.AVAILABLE | _OP.AWAY:
                if target is op.state and (target is not _OP.AWAY or reason == op.reason):
                    raise _Reject(R.NO_CHANGE, f"operator {op.operator_id} is already {target}")
                if target is _OP.AVAILABLE:
                    op.missed_in_row = 0
                floor.set_operator(op, target, reason, now)
            case _OP.RESERVED if target is _OP.AVAILABLE:
                raise _Reject(R.NO_CHANGE, f"operator {op.operator_id} is being offered a call")
            case _OP.RESERVED:
                assert op.call_id is not None
                call = floor.calls[op.call_id]
                floor.release(call, op, now, "operator_state", missed=False, cancel=True,
                              to=wanted)
                if target is _OP.AVAILABLE:
                    op.missed_in_row = 0
                if not call.offered_to:
                    floor.queue(call, now, "requeued")
            case _OP.WRAP_UP if event.by_supervisor:
                if target is _OP.AVAILABLE:
                    op.missed_in_row = 0
                floor.end_wrap_up(op, now, wanted)
            case _OP.ON_CALL | _OP.WRAP_UP:
                op.pending = wanted
                floor.out.append(OperatorStatePending(op.operator_id, target, reason))

    def _roster(self, event: OperatorConfigured | OperatorRemoved, now: float) -> None:
        rejection = roster.apply(self._floor, event, now)
        if rejection is not None:
            raise _Reject(*rejection)

    def _hand_over(self, event: CallHandedOver, now: float) -> None:
        floor = self._floor
        call = self._call(event.call_id)
        if call.state is not _CALL.CONNECTED:
            raise _Reject(R.CALL_NOT_CONNECTED, f"call {call.call_id} is {call.state}")
        service = event.service or call.service
        self._service(service)
        to = None
        if event.operator_id is not None:
            to = self._operator(event.operator_id)
            if to.state is _OP.OFFLINE:
                raise _Reject(R.OPERATOR_OFFLINE, f"operator {to.operator_id} is offline")
            if to.state is not _OP.AVAILABLE:  # includes the operator handing it over
                raise _Reject(R.OPERATOR_BUSY, f"operator {to.operator_id} is {to.state}")
        elif not floor.skilled_logged_in(service):
            raise _Reject(R.NO_SKILLED_OPERATOR,
                          f"nobody with the skill for {service} is logged in")
        floor.hand_over(call, now, service, to)

    def _move(self, call_id: str, service: str, now: float) -> None:
        floor = self._floor
        call = self._waiting_call(call_id)
        self._service(service)
        if service == call.service:
            raise _Reject(R.NO_CHANGE, f"call {call_id} already waits in {service}")
        if not floor.skilled_logged_in(service):
            raise _Reject(R.NO_SKILLED_OPERATOR,
                          f"nobody with the skill for {service} is logged in")
        floor.unqueue(call)
        floor.move_waiting(call, service)
        call.level = 0
        floor.place(call, now, "moved")

    # -- lookups that reject -------------------------------------------------------

    def _service(self, service: str) -> None:
        if service not in self._floor.services:
            raise _Reject(R.UNKNOWN_SERVICE, f"no service {service!r}")

    def _operator(self, operator_id: str) -> OperatorRecord:
        op = self._floor.operators.get(operator_id)
        if op is None:
            raise _Reject(R.UNKNOWN_OPERATOR, f"no operator {operator_id!r}")
        return op

    def _call(self, call_id: str) -> CallRecord:
        floor = self._floor
        call = floor.calls.get(call_id)
        if call is not None:
            return call
        if call_id in floor.closed:
            raise _Reject(R.CALL_CLOSED, f"call {call_id} is {floor.closed[call_id].state}")
        raise _Reject(R.UNKNOWN_CALL, f"no call {call_id!r}")

    def _waiting_call(self, call_id: str) -> CallRecord:
        call = self._call(call_id)
        if call.state is not _CALL.QUEUED:
            raise _Reject(R.CALL_NOT_WAITING, f"call {call_id} is {call.state}")
        return call

    def _offered(self, call_id: str, operator_id: str) -> tuple[CallRecord, OperatorRecord]:
        call = self._call(call_id)
        op = self._operator(operator_id)
        if call.state is not _CALL.OFFERED or operator_id not in call.offered_to:
            raise _Reject(R.CALL_NOT_OFFERED,
                          f"call {call_id} ({call.state}) is not ringing {operator_id}")
        return call, op

    # -- views -----------------------------------------------------------------------

    def operators(self) -> tuple[OperatorView, ...]:
        return tuple(
            OperatorView(
                operator_id=op.operator_id, state=op.state, reason=op.reason,
                skills=tuple(sorted(op.skills.items())), call_id=op.call_id, since=op.since,
                missed_in_row=op.missed_in_row,
                pending_state=op.pending[0] if op.pending else None,
                pending_reason=op.pending[1] if op.pending else None,
                wrap_up_ends_at=op.wrap_up_ends_at,
            )
            for op in self._floor.operators.values()
        )

    def operator_counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """Operators per state, and available operators per service they are skilled for,
        without building a view of each operator (what the metrics need after every
        decision)."""
        by_state: dict[str, int] = {}
        available: dict[str, int] = {}
        for op in self._floor.operators.values():
            by_state[op.state] = by_state.get(op.state, 0) + 1
            if op.state is OperatorState.AVAILABLE:
                for service in op.skills:
                    available[service] = available.get(service, 0) + 1
        return by_state, available

    def queues(self, now: float) -> tuple[QueueView, ...]:
        floor = self._floor
        by_service: dict[str, list[CallRecord]] = {s: [] for s in floor.services}
        for call in floor.calls.values():
            if call.state in WAITING_CALL_STATES:
                by_service[call.service].append(call)
        views = []
        for service, calls in by_service.items():
            calls.sort(key=lambda c: c.key)
            waiting, position = [], 0
            for call in calls:
                queued = call.state is _CALL.QUEUED
                position += queued
                waiting.append(WaitingCallView(
                    call.call_id, call.state, floor.priority(call), now - call.arrived_at,
                    position if queued else None, call.level, tuple(call.offered_to)))
            views.append(QueueView(
                service, tuple(waiting), max((w.wait_s for w in waiting), default=0.0),
                floor.priority_delta[service]))
        return tuple(views)

    def queue_counts(self, now: float) -> tuple[QueueCount, ...]:
        """Per service: how many calls wait and the longest wait, without building a view of
        every waiting call (what the wallboard and the metrics need after every decision)."""
        return tuple(
            QueueCount(service, len(since), now - min(since.values()) if since else 0.0)
            for service, since in self._floor.waiting_since.items()
        )

    def call(self, call_id: str) -> CallView | None:
        floor = self._floor
        call = floor.calls.get(call_id) or floor.closed.get(call_id)
        if call is None:
            return None
        return CallView(call.call_id, call.service, call.state, floor.priority(call),
                        call.caller_tag, call.arrived_at, call.level, call.operator_id,
                        tuple(call.offered_to), call.closed_at)
