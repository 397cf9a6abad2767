"""The router's building blocks, and edge cases of time and memory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cti.routing import CallArrived, CallerHungUp, OperatorStateRequested, Overflow, Rejected
from cti.routing.estimate import HandleTimes
from cti.routing.timers import Deadlines
from cti.routing.waiting import WaitingCalls

Build = Callable[..., Any]


def test_deadlines_pop_in_time_order_and_honour_reschedules() -> None:
    deadlines = Deadlines()
    deadlines.schedule(("call", "a"), 30.0)
    deadlines.schedule(("call", "b"), 10.0)
    deadlines.schedule(("operator", "x"), 20.0)
    deadlines.schedule(("call", "b"), 40.0)  # moved later: the 10.0 entry is stale
    deadlines.cancel(("operator", "x"))
    assert deadlines.next() == 30.0
    assert deadlines.pop_due(29.9) is None
    assert deadlines.pop_due(100.0) == ("call", "a")
    assert deadlines.pop_due(100.0) == ("call", "b")
    assert deadlines.pop_due(100.0) is None
    assert deadlines.next() is None


def test_deadlines_compact_stale_entries_without_losing_live_ones() -> None:
    deadlines = Deadlines()
    for round_ in range(50):
        for n in range(5):
            deadlines.schedule(("call", str(n)), 1000.0 - round_ - n)
    assert len(deadlines._heap) <= 4 * 5 + 64  # stale entries were dropped on the way
    popped = []
    while (owner := deadlines.pop_due(2000.0)) is not None:
        popped.append(owner)
    assert popped == [("call", str(n)) for n in (4, 3, 2, 1, 0)]


def test_waiting_calls_keep_order_and_positions_across_levels() -> None:
    waiting = WaitingCalls(["portal", "skysea"])
    waiting.add("portal", 0, (0, 5, "c-5"))
    waiting.add("portal", 1, (0, 2, "c-2"))
    waiting.add("portal", 0, (-1, 9, "c-vip"))
    waiting.add("skysea", 2, (0, 1, "c-1"))
    assert waiting.ordered("portal") == [(-1, 9, "c-vip"), (0, 2, "c-2"), (0, 5, "c-5")]
    assert waiting.position("portal", (0, 5, "c-5")) == 3
    assert waiting.count("portal") == 3
    assert sorted(waiting.heads()) == [
        ("portal", 0, (-1, 9, "c-vip")), ("portal", 1, (0, 2, "c-2")),
        ("skysea", 2, (0, 1, "c-1"))]
    waiting.remove("portal", 0, (-1, 9, "c-vip"))
    assert waiting.position("portal", (0, 5, "c-5")) == 2
    try:
        waiting.remove("portal", 0, (-1, 9, "c-vip"))
    except KeyError:
        pass
    else:
        raise AssertionError("removing a missing call must fail")


def test_handle_times_average_a_sliding_window() -> None:
    times = HandleTimes({"portal": 300.0}, window=2)
    assert times.average("portal") == 300.0
    assert times.expected_wait("portal", position=2, staffed=3) == 200.0
    for seconds in (100.0, 200.0, 400.0):
        times.record("portal", seconds)
    assert times.average("portal") == 300.0  # (200 + 400) / 2: the 100 fell out
    assert times.expected_wait("portal", position=1, staffed=0) == 300.0  # nobody staffed


def test_a_deadline_that_fires_always_finds_its_step_reached(desk: Build) -> None:
    # 43.38 + 30.0 - 43.38 < 30.0 in floating point: overflow must still happen exactly
    # when its deadline fires, not spin re-firing it.
    d = desk({"op-aoki": {"portal": 4}},
             service_overrides={"portal": {"overflow_after_s": 30.0}})
    d.send(OperatorStateRequested("op-aoki", "away", "break"))
    d.now = 43.38
    d.send(CallArrived("c-1", "portal"))
    deadline = d.router.next_deadline()
    assert deadline == 43.38 + 30.0
    decisions = d.router.handle_timer(deadline)
    assert [(o.call_id, o.level) for o in decisions if isinstance(o, Overflow)] == [("c-1", 1)]
    assert d.router.next_deadline() > deadline


def test_closed_calls_are_remembered_only_up_to_the_limit(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 4}}, closed_calls_kept=2)
    d.send(OperatorStateRequested("op-aoki", "away", "break"))
    for n in range(3):
        d.send(CallArrived(f"c-{n}", "portal"))
        d.send(CallerHungUp(f"c-{n}"))
    assert d.router.call("c-0") is None
    assert d.router.call("c-2").state == "abandoned"
    [late] = d.send(CallerHungUp("c-1"))
    assert isinstance(late, Rejected) and late.error_id == "call_closed"
    [forgotten] = d.send(CallerHungUp("c-0"))
    assert isinstance(forgotten, Rejected) and forgotten.error_id == "unknown_call"


def test_something_that_is_not_an_event_is_rejected(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 4}})
    [rejected] = d.send("hang up please")
    assert isinstance(rejected, Rejected) and rejected.error_id == "unknown_event"
