"""The routing floor: the state of every operator and call, and the moves that
change it. Each move checks the state tables and appends its decisions to
`Floor.out`; validation of outside input happens before a move, in `router.py`.
"""

from __future__ import annotations

from collections import OrderedDict
from itertools import count

from .call_state import WAITING_CALL_STATES, CallState, check_call_transition
from .decisions import (
    Abandon,
    Announce,
    CallClosed,
    CancelOffer,
    Connect,
    Decision,
    Enqueue,
    NotifySupervisor,
    Offer,
    OfferCallback,
    OperatorStateChanged,
    Overflow,
    WrapUpScheduled,
)
from .distribution import (
    choose_operators,
    eligibility_table,
    max_wait_reached,
    next_overflow_at,
    overflow_level,
)
from .estimate import HandleTimes
from .operator_state import OperatorState, check_operator_transition
from .records import CallRecord, OperatorRecord
from .rules import RoutingRules, Strategy
from .timers import Deadlines
from .waiting import WaitingCalls

_OP = OperatorState
_CALL = CallState
MISSED_CALLS = "missed_calls"


class Floor:
    def __init__(self, rules: RoutingRules) -> None:
        self.rules = rules
        self.services = {s.service_id: s for s in rules.services}
        self.operators = {
            p.operator_id: OperatorRecord(p.operator_id, i, dict(p.skills))
            for i, p in enumerate(rules.operators)
        }
        self.skilled = {
            s: tuple(op for op in self.operators.values() if op.skills.get(s, 0) >= 1)
            for s in self.services
        }
        self.calls: dict[str, CallRecord] = {}
        self.closed: OrderedDict[str, CallRecord] = OrderedDict()
        self.waiting = WaitingCalls(self.services)
        # Per service, the calls waiting (queued or ringing an operator) and when they arrived:
        # kept up to date on every call state change, so the floor's counts need no walk.
        self.waiting_since: dict[str, dict[str, float]] = {s: {} for s in self.services}
        self.deadlines = Deadlines()
        self.available: set[str] = set()
        self.eligible = eligibility_table(rules)
        self.priority_delta = dict.fromkeys(self.services, 0)
        self.handle_times = HandleTimes(
            {s.service_id: s.default_handle_time_s for s in rules.services},
            rules.handle_time_window,
        )
        self.round_robin_last = dict.fromkeys(self.services, -1)
        self.coverage_dirty: set[str] = set()
        self.out: list[Decision] = []
        self._seq = count()

    # -- small helpers -------------------------------------------------------

    def next_seq(self) -> int:
        return next(self._seq)

    def priority(self, call: CallRecord) -> int:
        return call.base_priority + self.priority_delta[call.service]

    def skilled_logged_in(self, service: str) -> bool:
        return any(op.state is not _OP.OFFLINE for op in self.skilled[service])

    def set_operator(
        self, op: OperatorRecord, new: OperatorState, reason: str, now: float
    ) -> None:
        old = op.state
        check_operator_transition(op.operator_id, old, new)
        op.state, op.reason, op.since = new, reason, now
        if new is _OP.AVAILABLE:
            if old is not _OP.RESERVED:  # a missed or withdrawn offer keeps idle time
                op.idle_since = now
            self.available.add(op.operator_id)
        else:
            self.available.discard(op.operator_id)
        if new is _OP.OFFLINE:
            self.coverage_dirty.update(op.skills)
        self.out.append(OperatorStateChanged(op.operator_id, old, new, reason))

    def set_call(self, call: CallRecord, new: CallState) -> None:
        old = call.state
        call.state = check_call_transition(call.call_id, old, new)
        self.track_waiting(call, old)

    # -- the incremental waiting index (queue counts without walking every call) ---------

    def track_waiting(self, call: CallRecord, old: CallState) -> None:
        """Keep ``waiting_since`` in step with a call's state change from ``old``."""
        was, waits = old in WAITING_CALL_STATES, call.state in WAITING_CALL_STATES
        if was and not waits:
            self.waiting_since[call.service].pop(call.call_id, None)
        elif waits and not was:
            self.waiting_since[call.service][call.call_id] = call.arrived_at

    def move_waiting(self, call: CallRecord, service: str) -> None:
        """A waiting call changes service (``CallMoved``): move its index entry along."""
        self.waiting_since[call.service].pop(call.call_id, None)
        call.service = service
        if call.state in WAITING_CALL_STATES:
            self.waiting_since[service][call.call_id] = call.arrived_at

    # -- calls waiting ---------------------------------------------------------

    def queue(self, call: CallRecord, now: float, reason: str) -> None:
        """Put a call (new, or back from a failed offer) into its service's queue."""
        self.set_call(call, _CALL.QUEUED)
        call.ring_deadline = None
        self.place(call, now, reason)

    def place(self, call: CallRecord, now: float, reason: str) -> None:
        """Insert a QUEUED call (not yet in a bucket) by its service's rules."""
        rules = self.services[call.service]
        if max_wait_reached(rules, call.arrived_at, now):
            self.offer_callback(call, now, "max_wait")
            return
        level = overflow_level(rules, call.arrived_at, now)
        if level > call.level:
            self.out.append(Overflow(call.call_id, level))
        call.level = level
        self.waiting.add(call.service, level, call.key)
        self.out.append(
            Enqueue(call.call_id, call.service, self.waiting.position(call.service, call.key),
                    reason)
        )
        interval = self.rules.announce_interval_s
        if interval is not None:
            if call.next_announce_at is None:
                call.next_announce_at = call.arrived_at + interval
            while call.next_announce_at <= now:
                call.next_announce_at += interval
        self.schedule_call(call)

    def unqueue(self, call: CallRecord) -> None:
        self.waiting.remove(call.service, call.level, call.key)

    def schedule_call(self, call: CallRecord) -> None:
        owner = ("call", call.call_id)
        if call.state is _CALL.OFFERED and call.ring_deadline is not None:
            self.deadlines.schedule(owner, call.ring_deadline)
            return
        if call.state is not _CALL.QUEUED:
            self.deadlines.cancel(owner)
            return
        rules = self.services[call.service]
        candidates = [
            next_overflow_at(rules, call.arrived_at, call.level),
            None if rules.max_wait_s is None else call.arrived_at + rules.max_wait_s,
            call.next_announce_at,
        ]
        due = [t for t in candidates if t is not None]
        if due:
            self.deadlines.schedule(owner, min(due))
        else:
            self.deadlines.cancel(owner)

    def call_due(self, call: CallRecord, now: float) -> None:
        """A call's deadline passed: ring timeout, overflow, max wait or announcement."""
        if call.state is _CALL.OFFERED:
            if call.ring_deadline is not None and call.ring_deadline <= now:
                for operator_id in list(call.offered_to):
                    self.release(call, self.operators[operator_id], now, "ring_timeout",
                                 missed=True, cancel=True)
                self.queue(call, now, "requeued")
            else:
                self.schedule_call(call)
            return
        if call.state is not _CALL.QUEUED:
            return
        rules = self.services[call.service]
        if max_wait_reached(rules, call.arrived_at, now):
            self.unqueue(call)
            self.offer_callback(call, now, "max_wait")
            return
        level = overflow_level(rules, call.arrived_at, now)
        if level > call.level:
            self.unqueue(call)
            call.level = level
            self.waiting.add(call.service, level, call.key)
            self.out.append(Overflow(call.call_id, level))
        interval = self.rules.announce_interval_s
        if interval is not None and call.next_announce_at is not None:
            if call.next_announce_at <= now:
                self.announce(call)
                while call.next_announce_at <= now:
                    call.next_announce_at += interval
        self.schedule_call(call)

    def announce(self, call: CallRecord) -> None:
        position = self.waiting.position(call.service, call.key)
        staffed = sum(
            1 for op in self.skilled[call.service]
            if op.state is not _OP.OFFLINE and op.state is not _OP.AWAY
        )
        expected = self.handle_times.expected_wait(call.service, position, staffed)
        self.out.append(Announce(call.call_id, position, expected))

    def check_coverage(self, now: float) -> None:
        """Calls of a service nobody with the skill is logged in for stop waiting."""
        dirty, self.coverage_dirty = self.coverage_dirty, set()
        for service in sorted(dirty):
            if self.skilled_logged_in(service) or not self.waiting.count(service):
                continue
            for key in self.waiting.ordered(service):
                call = self.calls[key[2]]
                self.unqueue(call)
                self.offer_callback(call, now, "no_skilled_operator")
            self.out.append(NotifySupervisor(
                "no_skilled_operator", None,
                f"service {service}: nobody with the skill is logged in; "
                "waiting callers were offered a callback"))

    # -- offers ----------------------------------------------------------------

    def dispatch(self, now: float) -> None:
        """Offer waiting calls to free operators: best (priority, arrival) call first."""
        while self.available:
            best: tuple[tuple[int, int], str, int, frozenset[str]] | None = None
            for service, level, key in self.waiting.heads():
                rank = (key[0] - self.priority_delta[service], key[1])
                if best is not None and rank >= best[0]:
                    continue
                candidates = self.eligible[(service, level)] & self.available
                if candidates:
                    best = (rank, key[2], level, candidates)
            if best is None:
                return
            _, call_id, _, candidates = best
            call = self.calls[call_id]
            ops = [self.operators[i] for i in candidates]
            fresh = [op for op in ops if op.operator_id not in call.missed_by] or ops
            rules = self.services[call.service]
            chosen = choose_operators(rules.strategy, call.service, fresh,
                                      self.round_robin_last[call.service], len(self.operators))
            if rules.strategy is Strategy.ROUND_ROBIN:
                self.round_robin_last[call.service] = chosen[0].order
            self.offer(call, chosen, now, taken=False)

    def offer(self, call: CallRecord, ops: list[OperatorRecord], now: float,
              taken: bool) -> None:
        self.unqueue(call)
        self.set_call(call, _CALL.OFFERED)
        call.offered_to = [op.operator_id for op in ops]
        call.taken = taken
        call.ring_deadline = now + self.rules.ring_timeout_s
        waited = now - call.arrived_at
        priority = self.priority(call)
        for op in ops:
            self.out.append(Offer(call.call_id, op.operator_id, call.service, waited,
                                  call.caller_tag, priority, call.level, taken))
            self.set_operator(op, _OP.RESERVED, "taken" if taken else "offer", now)
            op.call_id = call.call_id
        self.schedule_call(call)

    def release(self, call: CallRecord, op: OperatorRecord, now: float, reason: str, *,
                missed: bool, cancel: bool,
                to: tuple[OperatorState, str] | None = None) -> None:
        """Take `op` off a call that is ringing them (the call itself stays OFFERED;
        the caller requeues it when nobody is left ringing)."""
        call.offered_to.remove(op.operator_id)
        op.call_id = None
        if cancel:
            self.out.append(CancelOffer(call.call_id, op.operator_id, reason))
        if missed and not call.taken:
            op.missed_in_row += 1
            call.missed_by.add(op.operator_id)
        if to is None and missed and not call.taken \
                and op.missed_in_row >= self.rules.max_missed_offers:
            op.pending = None
            self.set_operator(op, _OP.AWAY, MISSED_CALLS, now)
            self.out.append(NotifySupervisor(
                MISSED_CALLS, op.operator_id,
                f"{op.missed_in_row} consecutive missed offers; operator set away"))
            return
        target = to or op.pending or (_OP.AVAILABLE, reason)
        op.pending = None
        self.set_operator(op, target[0], target[1], now)

    def release_all(self, call: CallRecord, now: float, reason: str) -> None:
        for operator_id in list(call.offered_to):
            self.release(call, self.operators[operator_id], now, reason,
                         missed=False, cancel=True)

    def connect(self, call: CallRecord, op: OperatorRecord, now: float) -> None:
        self.set_call(call, _CALL.CONNECTED)
        call.offered_to.remove(op.operator_id)
        self.release_all(call, now, "answered_elsewhere")
        call.operator_id, call.connected_at, call.ring_deadline = op.operator_id, now, None
        self.deadlines.cancel(("call", call.call_id))
        op.missed_in_row = 0
        self.set_operator(op, _OP.ON_CALL, "answered", now)
        self.out.append(Connect(call.call_id, op.operator_id, call.service,
                                now - call.arrived_at))

    # -- endings ---------------------------------------------------------------

    def finish(self, call: CallRecord, now: float) -> None:
        """The conversation ended: the call closes, its operator goes to wrap-up."""
        self.set_call(call, _CALL.ENDED)
        assert call.operator_id is not None and call.connected_at is not None
        self.wrap_up(self.operators[call.operator_id], call.service, now, "call_finished")
        rules = self.services[call.service]
        self.handle_times.record(call.service, now - call.connected_at + rules.wrap_up_s)
        self.close(call, now)

    def wrap_up(self, op: OperatorRecord, service: str, now: float, reason: str) -> None:
        """The operator's part of a call is over: wrap-up by the service's rules."""
        op.call_id = None
        self.set_operator(op, _OP.WRAP_UP, reason, now)
        op.wrap_up_ends_at = now + self.services[service].wrap_up_s
        op.wrap_up_extended, op.wrap_up_service = False, service
        self.deadlines.schedule(("operator", op.operator_id), op.wrap_up_ends_at)
        self.out.append(WrapUpScheduled(op.operator_id, op.wrap_up_ends_at, False))

    def hand_over(self, call: CallRecord, now: float, service: str,
                  to: OperatorRecord | None) -> None:
        """A connected call changes hands (transfer): its operator goes to wrap-up and the
        call waits again, rung at `to` directly or queued in `service`. It keeps its place
        by arrival; its wait, overflow level and announcements start over."""
        assert call.operator_id is not None
        self.wrap_up(self.operators[call.operator_id], call.service, now, "handed_over")
        call.operator_id, call.service, call.level = None, service, 0
        call.arrived_at, call.next_announce_at = now, None
        call.missed_by.clear()
        if to is None:
            self.queue(call, now, "transferred")
            return
        self.set_call(call, _CALL.QUEUED)
        self.waiting.add(service, 0, call.key)
        self.offer(call, [to], now, taken=True)

    def end_wrap_up(self, op: OperatorRecord, now: float,
                    target: tuple[OperatorState, str]) -> None:
        self.deadlines.cancel(("operator", op.operator_id))
        op.wrap_up_ends_at, op.wrap_up_extended, op.wrap_up_service = None, False, None
        op.pending = None
        self.set_operator(op, target[0], target[1], now)

    def operator_due(self, op: OperatorRecord, now: float) -> None:
        if op.state is _OP.WRAP_UP and op.wrap_up_ends_at is not None:
            if op.wrap_up_ends_at <= now:
                self.end_wrap_up(op, now, op.pending or (_OP.AVAILABLE, "wrap_up_done"))
            else:
                self.deadlines.schedule(("operator", op.operator_id), op.wrap_up_ends_at)

    def abandon(self, call: CallRecord, now: float) -> None:
        stage = {_CALL.IVR: "ivr", _CALL.QUEUED: "queued", _CALL.OFFERED: "ringing"}[call.state]
        if call.state is _CALL.QUEUED:
            self.unqueue(call)
        elif call.state is _CALL.OFFERED:
            self.release_all(call, now, "caller_hung_up")
        self.set_call(call, _CALL.ABANDONED)
        self.out.append(Abandon(call.call_id, stage, now - call.arrived_at))
        self.close(call, now)

    def offer_callback(self, call: CallRecord, now: float, reason: str) -> None:
        """Routing stops waiting for this (IVR or QUEUED, already unqueued) call."""
        self.set_call(call, _CALL.OVERFLOWED)
        self.out.append(OfferCallback(call.call_id, reason, now - call.arrived_at))
        self.close(call, now)

    def voicemail(self, call: CallRecord, now: float) -> None:
        if call.state is _CALL.QUEUED:
            self.unqueue(call)
        elif call.state is _CALL.OFFERED:
            self.release_all(call, now, "callback_accepted")
        self.set_call(call, _CALL.VOICEMAIL)
        self.close(call, now)

    def close(self, call: CallRecord, now: float) -> None:
        call.closed_at = now
        call.ring_deadline = None
        self.deadlines.cancel(("call", call.call_id))
        del self.calls[call.call_id]
        if self.rules.closed_calls_kept:
            self.closed[call.call_id] = call
            while len(self.closed) > self.rules.closed_calls_kept:
                self.closed.popitem(last=False)
        end = call.connected_at if call.connected_at is not None else now
        self.out.append(CallClosed(call.call_id, call.state, call.service, call.operator_id,
                                   end - call.arrived_at))
