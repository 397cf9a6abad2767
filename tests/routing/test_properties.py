"""Guarantees of the router, checked with Hypothesis over random event sequences.

Each example builds random rules (strategies, wrap-up times), then drives a
`Desk` through a random mix of arrivals, answers, failures, hang-ups, state
requests, supervisor actions, hand-overs (transfers), bad input and the passing
of time, checking the invariants after every step and once more after draining every call.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from io import StringIO
from typing import Any

import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note
from hypothesis import strategies as st

from cti.routing import (
    CallArrived,
    CallbackAccepted,
    CallClosed,
    CallerHungUp,
    CallFinished,
    CallHandedOver,
    CallMoved,
    CallTaken,
    CancelOffer,
    Connect,
    Decision,
    Enqueue,
    Event,
    IncidentPriority,
    Offer,
    OfferAnswered,
    OfferFailed,
    OperatorStateChanged,
    OperatorStatePending,
    OperatorStateRequested,
    Rejected,
    RoutingRules,
    Strategy,
    WrapUpExtended,
    WrapUpScheduled,
)

SERVICES = ("portal", "skysea", "licenses")
OPERATORS = {
    "op-aoki": {"portal": 5, "skysea": 2},
    "op-baba": {"portal": 3},
    "op-chiba": {"skysea": 4, "licenses": 1},
    "op-doi": {},
}
PRIORITY_TAG = "tag-crisis-office"
RUNS = settings(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])

call_index = st.integers(0, 40)
op_index = st.integers(0, len(OPERATORS))  # the last index is an unknown operator
service_index = st.integers(0, len(SERVICES))  # the last index is an unknown service
BRANCHES: dict[str, st.SearchStrategy[tuple[Any, ...]]] = {
    "arrive": st.tuples(st.just("arrive"), service_index, st.booleans(), st.booleans()),
    "answer": st.tuples(st.just("answer"), call_index, op_index, st.booleans()),
    "finish": st.tuples(st.just("finish"), call_index, st.booleans()),
    "tick": st.tuples(st.just("tick"), st.sampled_from([0.0, 0.1, 1.0, 2.35, 5.0, 7.7, 15.0, 30.0, 61.0])),
    "hangup": st.tuples(st.just("hangup"), call_index),
    "fail": st.tuples(st.just("fail"), call_index, op_index, st.booleans(),
                      st.sampled_from(["no_answer", "busy", "unreachable", "rejected"])),
    "state": st.tuples(st.just("state"), op_index,
                       st.sampled_from(["available", "available", "away", "offline", "on_call"]),
                       st.sampled_from(["", "break", "meeting"]), st.booleans()),
    "extend": st.tuples(st.just("extend"), op_index),
    "move": st.tuples(st.just("move"), call_index, service_index),
    "take": st.tuples(st.just("take"), call_index, op_index),
    "incident": st.tuples(st.just("incident"), service_index, st.integers(-2, 2)),
    "callback": st.tuples(st.just("callback"), call_index),
    "handover": st.tuples(st.just("handover"), call_index, st.none() | op_index,
                          st.none() | service_index, st.booleans()),
}
WEIGHTS = {"arrive": 22, "answer": 20, "finish": 12, "tick": 16, "hangup": 5, "fail": 6,
           "state": 8, "extend": 3, "move": 3, "take": 2, "incident": 2, "callback": 1,
           "handover": 8}
actions = st.sampled_from([k for k, w in WEIGHTS.items() for _ in range(w)]).flatmap(
    BRANCHES.__getitem__)


@st.composite
def rule_sets(draw: st.DrawFn, rules_for: Any) -> RoutingRules:
    overrides = {
        s: {
            "strategy": draw(st.sampled_from(list(Strategy))),
            "wrap_up_s": draw(st.sampled_from([0.0, 5.0, 20.0])),
            "overflow_after_s": 30.0,
            "overflow_any_after_s": 60.0,
            "max_wait_s": draw(st.sampled_from([90.0, 200.0])),
        }
        for s in SERVICES
    }
    return rules_for(
        OPERATORS, SERVICES, service_overrides=overrides, ring_timeout_s=15.0,
        max_missed_offers=draw(st.integers(1, 3)), announce_interval_s=20.0,
        priority_callers=frozenset({PRIORITY_TAG}))


@dataclass
class Tracker:
    """What the decisions so far say, kept independently of the router."""

    rules: RoutingRules
    arrival: dict[str, int] = field(default_factory=dict)
    closed: dict[str, int] = field(default_factory=dict)
    op_call: dict[str, str | None] = field(default_factory=dict)
    wrap_up_ends: dict[str, float] = field(default_factory=dict)
    connects: list[str] = field(default_factory=list)
    talking_about: dict[str, str] = field(default_factory=dict)
    op_state: dict[str, str] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)
    misses: dict[str, int] = field(default_factory=dict)
    taken: set[tuple[str, str]] = field(default_factory=set)
    handovers: int = 0

    def service(self, service_id: str) -> Any:
        return self.rules.service(service_id)


def reaches(rules: RoutingRules, operator_id: str, service: str, level: int) -> bool:
    proficiency = OPERATORS[operator_id].get(service, 0)
    minimum = rules.service(service).primary_min_proficiency
    return (level == 0 and proficiency >= minimum) or (level == 1 and proficiency >= 1) \
        or level == 2


def snapshot(desk: Any, tracker: Tracker) -> tuple[Any, ...]:
    calls = tuple(desk.router.call(c) for c in tracker.arrival)
    return desk.router.operators(), desk.router.queues(desk.now), calls, \
        desk.router.next_deadline()


def check_step(desk: Any, tracker: Tracker, event: Event | None,
               decisions: list[Decision]) -> None:
    rules = tracker.rules
    router = desk.router
    if isinstance(event, OfferFailed) and not isinstance(decisions[0], Rejected) \
            and (event.call_id, event.operator_id) not in tracker.taken:
        tracker.misses[event.operator_id] = tracker.misses.get(event.operator_id, 0) + 1
    if isinstance(event, CallHandedOver) and not isinstance(decisions[0], Rejected):
        tracker.handovers += 1
    for d in decisions:
        match d:
            case Enqueue(call_id) if call_id not in tracker.arrival:
                tracker.arrival[call_id] = len(tracker.arrival)
            case CallClosed(call_id):
                tracker.arrival.setdefault(call_id, len(tracker.arrival))
                # every call that enters ends in exactly one terminal state
                assert call_id not in tracker.closed, f"{call_id} closed twice"
                tracker.closed[call_id] = 1
            case Offer(call_id, operator_id, service, waited_s, _, _, level, taken):
                # no operator is ever offered two calls at once
                assert tracker.op_call.get(operator_id) is None, (operator_id, call_id)
                tracker.op_call[operator_id] = call_id
                if taken:
                    tracker.taken.add((call_id, operator_id))
                if taken and tracker.op_state.get(operator_id) == "away":
                    tracker.pending[operator_id] = "away"  # back to away after the call
                # no call goes to an operator without the skill before overflow widens it
                if not taken:
                    rules_s = tracker.service(service)
                    proficiency = OPERATORS[operator_id].get(service, 0)
                    if proficiency < rules_s.primary_min_proficiency:
                        assert level >= 1 and waited_s >= rules_s.overflow_after_s - 1e-9
                    if proficiency == 0:
                        assert level == 2 and waited_s >= rules_s.overflow_any_after_s - 1e-9
            case OperatorStatePending(operator_id, state):
                tracker.pending[operator_id] = state
            case CancelOffer(call_id, operator_id, reason):
                tracker.op_call[operator_id] = None
                if reason == "ring_timeout" and (call_id, operator_id) not in tracker.taken:
                    tracker.misses[operator_id] = tracker.misses.get(operator_id, 0) + 1
            case Connect(call_id, operator_id, service):
                tracker.connects.append(call_id)
                tracker.misses[operator_id] = 0
                tracker.talking_about[operator_id] = service
            case WrapUpScheduled(operator_id, ends_at, extended):
                rules_s = tracker.service(tracker.talking_about[operator_id])
                expected = (tracker.wrap_up_ends[operator_id] + rules_s.extension_s if extended
                            else desk.now + rules_s.wrap_up_s)
                assert ends_at == expected  # the service's full wrap-up time
                tracker.wrap_up_ends[operator_id] = ends_at
            case OperatorStateChanged(operator_id, old, new, reason):
                # wrap-up is never skipped ...
                if old == "on_call":
                    assert new == "wrap_up"
                if (old == "reserved" and new != "on_call") or new == "wrap_up":
                    tracker.op_call[operator_id] = None
                forced = isinstance(event, OperatorStateRequested) and event.by_supervisor \
                    and event.operator_id == operator_id
                # ... nor cut short, unless a supervisor ends it
                if old == "wrap_up" and not forced:
                    assert desk.now >= tracker.wrap_up_ends[operator_id]
                # a pending request (away during a call, a taken call) is honoured
                requested = isinstance(event, OperatorStateRequested) \
                    and event.operator_id == operator_id
                if old in ("wrap_up", "reserved") and new != "on_call" and not requested:
                    wanted = tracker.pending.get(operator_id, "available")
                    assert new == wanted or (new, reason) == ("away", "missed_calls"), \
                        (operator_id, old, new, wanted)
                # N consecutive missed offers: away("missed_calls"), and only then
                if old == "reserved" and new != "on_call" and not requested:
                    too_many = tracker.misses.get(operator_id, 0) >= rules.max_missed_offers
                    assert too_many == ((new, reason) == ("away", "missed_calls")) or (
                        not too_many and tracker.pending.get(operator_id) == "away"), \
                        (operator_id, new, reason, tracker.misses.get(operator_id))
                if requested and new == "available":
                    tracker.misses[operator_id] = 0
                if (old in ("wrap_up", "reserved") and new != "on_call") or requested:
                    tracker.pending.pop(operator_id, None)
                tracker.op_state[operator_id] = new
                # a paused operator is never flipped by a call event
                if old == "away":
                    assert isinstance(event, OperatorStateRequested | CallTaken)
                    assert event.operator_id == operator_id
            case _:
                pass
    for call_id in tracker.arrival:
        view = router.call(call_id)
        assert view is not None
        assert (view.closed_at is not None) == (call_id in tracker.closed)
    operators = {o.operator_id: o for o in router.operators()}
    queued: list[tuple[Any, Any]] = []
    referenced: dict[str, int] = {}
    full = router.queues(desk.now)
    # the incremental counts (wallboard, metrics) always equal the full view
    assert [(q.service, q.waiting, q.longest_wait_s) for q in router.queue_counts(desk.now)] \
        == [(q.service, len(q.waiting), q.longest_wait_s) for q in full]
    by_state, available = router.operator_counts()
    assert by_state == Counter(o.state for o in operators.values())
    assert available == Counter(s for o in operators.values() if o.state == "available"
                                for s, _ in o.skills)
    for queue in full:
        for waiting in queue.waiting:
            if waiting.state == "queued":
                queued.append((queue.service, waiting))
            for operator_id in waiting.offered_to:
                referenced[operator_id] = referenced.get(operator_id, 0) + 1
                assert operators[operator_id].state == "reserved"
                assert operators[operator_id].call_id == waiting.call_id
    # a missed offer never loses the call: every open call is queued, ringing or talking
    for call_id in tracker.arrival:
        if call_id in tracker.closed:
            continue
        view = router.call(call_id)
        assert view.state in ("queued", "offered", "connected"), view
        if view.state == "offered":
            assert view.offered_to
        if view.state == "connected":
            assert operators[view.operator_id].state == "on_call"
            assert operators[view.operator_id].call_id == call_id
            referenced[view.operator_id] = referenced.get(view.operator_id, 0) + 1
    assert all(n == 1 for n in referenced.values()), referenced
    for op in operators.values():
        if op.state in ("reserved", "on_call"):
            assert referenced.get(op.operator_id) == 1, op
        else:
            assert op.call_id is None, op
    # waiting calls are served in priority then arrival order; nobody free is left idle
    def rank(waiting: Any) -> tuple[int, int]:
        return -waiting.priority, tracker.arrival[waiting.call_id]
    for service, waiting in queued:
        for op in operators.values():
            if op.state == "available":
                assert not reaches(rules, op.operator_id, service, waiting.level), (op, waiting)
    for d in decisions:
        if isinstance(d, Offer) and not d.taken:
            offered = router.call(d.call_id)
            offered_rank = (-offered.priority, tracker.arrival[d.call_id])
            for service, waiting in queued:
                if reaches(rules, d.operator_id, service, waiting.level):
                    assert rank(waiting) > offered_rank, (d, waiting)


def call_id_at(tracker: Tracker, index: int) -> str:
    known = list(tracker.arrival)
    return known[index % len(known)] if known and index < 35 else f"c-ghost-{index}"


def operator_at(index: int) -> str:
    names = list(OPERATORS)
    return names[index] if index < len(names) else "op-nobody"


def service_at(index: int) -> str:
    return SERVICES[index] if index < len(SERVICES) else "no-such-service"


def to_event(action: tuple[Any, ...], desk: Any, tracker: Tracker, n: int) -> Event | None:
    match action:
        case ("arrive", s, vip, duplicate):
            call_id = call_id_at(tracker, 0) if duplicate and tracker.arrival else f"c-{n}"
            return CallArrived(call_id, service_at(s), PRIORITY_TAG if vip else f"tag-{n}")
        case ("hangup", i):
            return CallerHungUp(call_id_at(tracker, i))
        case ("answer" | "fail", i, o, pick_offered, *rest):
            call_id = call_id_at(tracker, i)
            operator_id = operator_at(o)
            ringing = [c for c in tracker.arrival if c not in tracker.closed
                       and desk.router.call(c).state == "offered"]
            if pick_offered and ringing:
                call_id = ringing[i % len(ringing)]
                offered_to = desk.router.call(call_id).offered_to
                operator_id = offered_to[o % len(offered_to)]
            if action[0] == "answer":
                return OfferAnswered(call_id, operator_id)
            return OfferFailed(call_id, operator_id, rest[0])
        case ("finish", i, pick_connected):
            call_id = call_id_at(tracker, i)
            talking = [c for c in tracker.arrival if c not in tracker.closed
                       and desk.router.call(c).state == "connected"]
            if pick_connected and talking:
                call_id = talking[i % len(talking)]
            return CallFinished(call_id)
        case ("state", o, state, reason, by_supervisor):
            return OperatorStateRequested(operator_at(o), state, reason, by_supervisor)
        case ("extend", o):
            return WrapUpExtended(operator_at(o))
        case ("move", i, s):
            return CallMoved(call_id_at(tracker, i), service_at(s))
        case ("take", i, o):
            return CallTaken(call_id_at(tracker, i), operator_at(o))
        case ("incident", s, delta):
            return IncidentPriority(service_at(s), delta)
        case ("callback", i):
            return CallbackAccepted(call_id_at(tracker, i))
        case ("handover", i, o, s, pick_connected):
            call_id = call_id_at(tracker, i)
            talking = [c for c in tracker.arrival if c not in tracker.closed
                       and desk.router.call(c).state == "connected"]
            if pick_connected and talking:
                call_id = talking[i % len(talking)]
            return CallHandedOver(call_id, None if o is None else operator_at(o),
                                  None if s is None else service_at(s))
    return None


def run(desk: Any, tracker: Tracker, plan: list[tuple[Any, ...]]) -> None:
    for n, action in enumerate(plan):
        if action[0] == "tick":
            target = desk.now + action[1]
            while (deadline := desk.router.next_deadline()) is not None and deadline <= target:
                desk.now = max(desk.now, deadline)
                check_step(desk, tracker, None, desk.router.handle_timer(desk.now))
            desk.now = target
            deadline = desk.router.next_deadline()
            assert deadline is None or deadline > desk.now
            continue
        event = to_event(action, desk, tracker, n)
        assert event is not None
        before = snapshot(desk, tracker)
        decisions = desk.router.handle(event, desk.now)
        if any(isinstance(d, Rejected) for d in decisions):
            assert len(decisions) == 1
            assert snapshot(desk, tracker) == before  # bad input changes nothing
        check_step(desk, tracker, event, decisions)


def drain(desk: Any, tracker: Tracker) -> None:
    """Hang up or finish every open call, then let all wrap-ups run out."""
    for call_id in list(tracker.arrival):
        if call_id in tracker.closed:
            continue
        view = desk.router.call(call_id)
        event = CallFinished(call_id) if view.state == "connected" else CallerHungUp(call_id)
        check_step(desk, tracker, event, desk.router.handle(event, desk.now))
    target = desk.now + 1000.0
    while (deadline := desk.router.next_deadline()) is not None and deadline <= target:
        desk.now = max(desk.now, deadline)
        check_step(desk, tracker, None, desk.router.handle_timer(desk.now))
    assert set(tracker.closed) == set(tracker.arrival)
    assert desk.router.next_deadline() is None
    assert all(o.state in ("available", "away", "offline") for o in desk.router.operators())
    assert all(not q.waiting for q in desk.router.queues(desk.now))


@RUNS
@given(data=st.data())
def test_random_event_sequences_keep_every_guarantee(
    desk: Any, rules_for: Any, data: st.DataObject
) -> None:
    rules = data.draw(rule_sets(rules_for))
    d = _desk_for(desk, rules)
    tracker = Tracker(rules)
    logins = data.draw(st.lists(st.sampled_from(list(OPERATORS)), min_size=2, max_size=4,
                                unique=True))
    for operator_id in logins:
        event = OperatorStateRequested(operator_id, "available")
        check_step(d, tracker, event, d.router.handle(event, d.now))
    plan = data.draw(st.lists(actions, min_size=20, max_size=80))
    run(d, tracker, plan)
    note(f"connected calls: {min(len(tracker.connects), 5)}+")
    note(f"calls: {min(len(tracker.arrival), 10)}+")
    note(f"hand-overs: {min(tracker.handovers, 3)}+")
    drain(d, tracker)


def _desk_for(build: Any, rules: RoutingRules) -> Any:
    """A Desk over ready-made rules (the fixture builds from skills; reuse its class)."""
    sample = build({"op-x": {}}, services=("portal",))
    quiet = structlog.wrap_logger(
        structlog.PrintLogger(StringIO()),
        wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    return type(sample)(rules, logger=quiet)
