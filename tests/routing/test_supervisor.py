"""Supervisor actions: move a waiting call, take a call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cti.routing import (
    CallArrived,
    CallFinished,
    CallMoved,
    CallTaken,
    Enqueue,
    Offer,
    OfferAnswered,
    OfferFailed,
    OperatorStateRequested,
    Rejected,
)

Build = Callable[..., Any]
SKILLS = {"op-aoki": {"portal": 4}, "op-baba": {"skysea": 4}, "op-sv": {"other": 3}}


def test_moving_a_waiting_call_offers_it_in_the_new_service(desk: Build) -> None:
    d = desk(SKILLS)
    d.send(OperatorStateRequested("op-aoki", "away", "meeting"))
    d.login("op-baba")
    d.send(CallArrived("c-1", "portal"))
    d.now = 40
    decisions = d.send(CallMoved("c-1", "skysea"))
    [enqueue] = d.of(Enqueue, decisions)
    assert (enqueue.service, enqueue.reason) == ("skysea", "moved")
    [offer] = d.of(Offer, decisions)
    assert (offer.operator_id, offer.service, offer.waited_s) == ("op-baba", "skysea", 40)


def test_a_moved_call_keeps_its_place_by_arrival(desk: Build) -> None:
    d = desk(SKILLS)
    d.send(OperatorStateRequested("op-aoki", "away", "meeting"))
    d.send(OperatorStateRequested("op-baba", "away", "meeting"))
    d.send(CallArrived("c-old", "portal"))
    d.now = 5
    d.send(CallArrived("c-new", "skysea"))
    [enqueue] = d.of(Enqueue, d.send(CallMoved("c-old", "skysea")))
    assert enqueue.position == 1
    [offer] = d.of(Offer, d.send(OperatorStateRequested("op-baba", "available")))
    assert offer.call_id == "c-old"


def test_moves_that_cannot_work_are_rejected(desk: Build) -> None:
    d = desk(SKILLS)
    d.send(OperatorStateRequested("op-aoki", "away", "meeting"))
    d.send(CallArrived("c-1", "portal"))
    for event, error in [
        (CallMoved("c-1", "telework"), "no_skilled_operator"),
        (CallMoved("c-1", "nowhere"), "unknown_service"),
        (CallMoved("c-1", "portal"), "no_change"),
        (CallMoved("c-404", "skysea"), "unknown_call"),
    ]:
        [rejected] = d.send(event)
        assert isinstance(rejected, Rejected)
        assert rejected.error_id == error
    assert d.router.call("c-1").service == "portal"


def test_a_supervisor_takes_a_waiting_call_without_the_skill(desk: Build) -> None:
    d = desk(SKILLS)
    d.send(OperatorStateRequested("op-aoki", "away", "meeting"))
    d.send(OperatorStateRequested("op-sv", "away", "supervising"))
    d.send(CallArrived("c-1", "portal"))
    decisions = d.send(CallTaken("c-1", "op-sv"))
    [offer] = d.of(Offer, decisions)
    assert (offer.operator_id, offer.taken) == ("op-sv", True)
    d.send(OfferAnswered("c-1", "op-sv"))
    d.send(CallFinished("c-1"))
    assert d.state("op-sv") == "wrap_up"
    d.advance(d.rules.services[0].wrap_up_s)
    # back to where the supervisor was: away, not available
    assert d.state("op-sv") == "away"
    assert d.operator("op-sv").reason == "supervising"


def test_a_failed_take_returns_the_call_and_counts_no_miss(desk: Build) -> None:
    d = desk(SKILLS)
    d.send(OperatorStateRequested("op-aoki", "away", "meeting"))
    d.login("op-sv")
    d.send(CallArrived("c-1", "portal"))
    d.send(CallTaken("c-1", "op-sv"))
    decisions = d.send(OfferFailed("c-1", "op-sv"))
    assert [e.reason for e in d.of(Enqueue, decisions)] == ["requeued"]
    assert d.operator("op-sv").missed_in_row == 0
    assert d.state("op-sv") == "available"
    assert d.router.call("c-1").state == "queued"  # op-sv has no portal skill


def test_taking_needs_a_free_operator_and_a_waiting_call(desk: Build) -> None:
    d = desk(SKILLS)
    d.login("op-aoki")
    d.send(CallArrived("c-1", "portal"))  # rings op-aoki
    [rejected] = d.send(CallTaken("c-1", "op-sv"))
    assert rejected.error_id == "call_not_waiting"
    d.send(CallArrived("c-2", "portal"))
    [rejected] = d.send(CallTaken("c-2", "op-aoki"))
    assert rejected.error_id == "operator_busy"
    [rejected] = d.send(CallTaken("c-2", "op-sv"))
    assert rejected.error_id == "operator_offline"
    assert d.router.call("c-2").state == "queued"
