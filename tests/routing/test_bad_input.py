"""Bad input is a named, logged rejection and leaves the state exactly as it was."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from structlog.testing import capture_logs

from cti.routing import (
    CallArrived,
    CallbackAccepted,
    CallerHungUp,
    CallFinished,
    Event,
    IncidentPriority,
    OfferAnswered,
    OfferFailed,
    OperatorStateRequested,
    Rejected,
    WrapUpExtended,
)

Build = Callable[..., Any]
SKILLS = {"op-aoki": {"portal": 4}, "op-baba": {"portal": 4}}


def snapshot(d: Any) -> tuple[Any, ...]:
    calls = tuple(d.router.call(c) for c in ("c-1", "c-2", "c-3", "c-x"))
    return d.router.operators(), d.router.queues(d.now), calls, d.router.next_deadline()


@pytest.fixture
def busy(desk: Build) -> Any:
    """c-1 talking to op-aoki, c-2 ringing op-baba, c-3 waiting, c-x abandoned."""
    d = desk(SKILLS)
    d.login("op-aoki", "op-baba")
    d.send(CallArrived("c-1", "portal"))
    d.send(OfferAnswered("c-1", "op-aoki"))
    d.send(CallArrived("c-2", "portal"))
    d.send(CallArrived("c-3", "portal"))
    d.send(CallArrived("c-x", "portal"))
    d.send(CallerHungUp("c-x"))
    d.now = 3.0
    return d


@pytest.mark.parametrize(
    ("event", "error_id"),
    [
        (CallerHungUp("c-404"), "unknown_call"),
        (OfferAnswered("c-404", "op-aoki"), "unknown_call"),
        (OfferAnswered("c-2", "op-nobody"), "unknown_operator"),
        (OperatorStateRequested("op-nobody", "available"), "unknown_operator"),
        (CallArrived("c-1", "portal"), "duplicate_call"),
        (CallArrived("c-x", "portal"), "duplicate_call"),
        (CallArrived("c-9", "no-such-service"), "unknown_service"),
        (OfferAnswered("c-1", "op-aoki"), "call_not_offered"),  # duplicate answer
        (OfferAnswered("c-2", "op-aoki"), "call_not_offered"),  # someone else's offer
        (OfferAnswered("c-3", "op-baba"), "call_not_offered"),  # never offered
        (OfferAnswered("c-x", "op-baba"), "call_closed"),  # answer after hang-up
        (OfferFailed("c-x", "op-baba"), "call_closed"),
        (CallFinished("c-2"), "call_not_connected"),  # finished before answered
        (CallFinished("c-x"), "call_closed"),
        (CallerHungUp("c-x"), "call_closed"),  # duplicate hang-up
        (CallbackAccepted("c-1"), "call_not_waiting"),
        (WrapUpExtended("op-aoki"), "not_in_wrap_up"),
        (IncidentPriority("portal", 0), "no_change"),
        (OperatorStateRequested("op-baba", "wrap_up"), "state_not_requestable"),
    ],
)
def test_rejections_are_named_and_change_nothing(busy: Any, event: Event, error_id: str) -> None:
    before = snapshot(busy)
    with capture_logs() as logs:
        decisions = busy.send(event)
    assert decisions == [Rejected(event, error_id, decisions[0].detail)]
    assert decisions[0].detail
    assert snapshot(busy) == before
    [entry] = [e for e in logs if e["event"] == "routing.rejected"]
    assert entry["log_level"] == "warning"
    assert entry["error_id"] == error_id
    assert entry["event_type"] == type(event).__name__


def test_after_rejections_the_router_still_works(busy: Any) -> None:
    busy.send(OfferAnswered("c-x", "op-baba"))
    busy.send(CallFinished("c-2"))
    busy.send(OfferAnswered("c-2", "op-baba"))
    busy.send(CallFinished("c-2"))
    assert busy.router.call("c-2").state == "ended"
    assert busy.state("op-baba") == "wrap_up"


def test_decisions_are_logged_with_stable_names(desk: Build) -> None:
    d = desk(SKILLS)
    with capture_logs() as logs:
        d.login("op-aoki")
        d.send(CallArrived("c-1", "portal"))
    names = [e["event"] for e in logs]
    assert names == [
        "routing.operator_state_changed", "routing.enqueue", "routing.offer",
        "routing.operator_state_changed"]
    offer = logs[2]
    assert (offer["call_id"], offer["operator_id"]) == ("c-1", "op-aoki")
