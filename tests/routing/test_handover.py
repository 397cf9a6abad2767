"""Handing a connected call over (a transfer from the operator's phone): the floor follows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cti.routing import (
    CallArrived,
    CallClosed,
    CallFinished,
    CallHandedOver,
    CallTaken,
    Connect,
    Enqueue,
    Offer,
    OfferAnswered,
    OfferFailed,
    OperatorStateRequested,
    Rejected,
    WrapUpScheduled,
)

Build = Callable[..., Any]
SKILLS = {"op-aoki": {"portal": 4}, "op-baba": {"portal": 3, "skysea": 4},
          "op-chiba": {"skysea": 4}}


def connected(d: Any, operator_id: str = "op-aoki") -> None:
    """c-1 (portal) is talking to `operator_id`; everyone else stays away."""
    for op in SKILLS:
        d.send(OperatorStateRequested(op, "away", "meeting"))
    d.send(CallArrived("c-1", "portal"))
    d.send(CallTaken("c-1", operator_id))
    d.send(OfferAnswered("c-1", operator_id))
    assert d.router.call("c-1").state == "connected"


def test_handing_over_to_a_named_operator_rings_them_and_wraps_up_the_first(desk: Build) -> None:
    d = desk(SKILLS)
    connected(d)
    d.send(OperatorStateRequested("op-chiba", "available"))
    d.now = 100
    decisions = d.send(CallHandedOver("c-1", operator_id="op-chiba"))
    [offer] = d.of(Offer, decisions)
    assert (offer.operator_id, offer.service, offer.taken, offer.waited_s) == (
        "op-chiba", "portal", True, 0)  # skills not checked: chiba has no portal skill
    [wrap] = d.of(WrapUpScheduled, decisions)
    assert (wrap.operator_id, wrap.ends_at) == ("op-aoki", 110)
    assert not d.of(CallClosed, decisions)
    assert (d.state("op-aoki"), d.state("op-chiba")) == ("wrap_up", "reserved")
    assert d.operator("op-chiba").call_id == "c-1" and d.operator("op-aoki").call_id is None
    d.now = 103
    [connect] = d.of(Connect, d.send(OfferAnswered("c-1", "op-chiba")))
    assert (connect.operator_id, connect.waited_s) == ("op-chiba", 3)
    assert d.router.call("c-1").operator_id == "op-chiba"
    assert d.state("op-chiba") == "on_call"
    d.now = 150
    [closed] = d.of(CallClosed, d.send(CallFinished("c-1")))
    assert (closed.outcome, closed.operator_id) == ("ended", "op-chiba")
    assert d.state("op-chiba") == "wrap_up"


def test_handing_back_to_a_queue_offers_the_call_to_a_skilled_operator(desk: Build) -> None:
    d = desk(SKILLS)
    connected(d)
    d.send(OperatorStateRequested("op-baba", "available"))
    d.now = 60
    decisions = d.send(CallHandedOver("c-1", service="skysea"))
    [enqueue] = d.of(Enqueue, decisions)
    assert (enqueue.service, enqueue.reason, enqueue.position) == ("skysea", "transferred", 1)
    [offer] = d.of(Offer, decisions)
    assert (offer.operator_id, offer.service, offer.taken) == ("op-baba", "skysea", False)
    assert d.state("op-aoki") == "wrap_up"  # never offered its own transfer back
    view = next(q for q in d.router.queues(d.now) if q.service == "skysea")
    assert [w.call_id for w in view.waiting] == ["c-1"]


def test_a_handed_over_call_waits_when_nobody_is_free_and_keeps_its_place(desk: Build) -> None:
    d = desk(SKILLS)
    connected(d)
    d.send(CallArrived("c-2", "portal"))  # arrived after c-1, waits (everyone away)
    d.now = 30
    decisions = d.send(CallHandedOver("c-1"))  # back to its own service
    [enqueue] = d.of(Enqueue, decisions)
    assert (enqueue.call_id, enqueue.position) == ("c-1", 1)
    assert not d.of(Offer, decisions)
    d.now = 35
    [offer] = d.of(Offer, d.send(OperatorStateRequested("op-baba", "available")))
    assert offer.call_id == "c-1"


def test_a_missed_handover_ring_requeues_without_counting_a_miss(desk: Build) -> None:
    d = desk(SKILLS)
    connected(d)
    d.send(OperatorStateRequested("op-chiba", "available"))
    d.send(CallHandedOver("c-1", operator_id="op-chiba"))
    decisions = d.send(OfferFailed("c-1", "op-chiba"))
    assert d.of(Enqueue, decisions)[0].reason == "requeued"
    assert d.operator("op-chiba").missed_in_row == 0
    assert d.router.call("c-1").state == "queued"


def test_handovers_that_cannot_work_are_rejected(desk: Build) -> None:
    d = desk(SKILLS)
    connected(d)
    d.send(CallArrived("c-2", "skysea"))
    for event, error in [
        (CallHandedOver("c-1", operator_id="op-aoki"), "operator_busy"),  # the one handing over
        (CallHandedOver("c-1", operator_id="op-baba"), "operator_busy"),  # away
        (CallHandedOver("c-1", operator_id="op-nobody"), "unknown_operator"),
        (CallHandedOver("c-1", service="nowhere"), "unknown_service"),
        (CallHandedOver("c-2"), "call_not_connected"),
        (CallHandedOver("c-404"), "unknown_call"),
    ]:
        [rejected] = d.send(event)
        assert isinstance(rejected, Rejected) and rejected.error_id == error, (event, rejected)
    d.send(OperatorStateRequested("op-chiba", "offline"))
    d.send(OperatorStateRequested("op-baba", "offline"))
    [rejected] = d.send(CallHandedOver("c-1", service="skysea"))
    assert isinstance(rejected, Rejected) and rejected.error_id == "no_skilled_operator"
    [rejected] = d.send(CallHandedOver("c-1", operator_id="op-chiba"))
    assert isinstance(rejected, Rejected) and rejected.error_id == "operator_offline"
    assert d.router.call("c-1").state == "connected" and d.state("op-aoki") == "on_call"
