"""Ring timeouts, failed offers, missed-call pauses: a missed offer never loses the call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cti.routing import (
    CallArrived,
    CancelOffer,
    Enqueue,
    FailReason,
    NotifySupervisor,
    Offer,
    OfferAnswered,
    OfferFailed,
    OperatorStateChanged,
    OperatorStateRequested,
)

Build = Callable[..., Any]
TWO = {"op-aoki": {"portal": 4}, "op-baba": {"portal": 4}}


def test_ring_timeout_offers_the_call_to_the_next_operator(desk: Build) -> None:
    d = desk(TWO)
    d.login("op-aoki", "op-baba")
    [first] = d.of(Offer, d.send(CallArrived("c-1", "portal")))
    assert d.router.next_deadline() == d.rules.ring_timeout_s
    decisions = d.advance(d.rules.ring_timeout_s)
    [cancel] = d.of(CancelOffer, decisions)
    assert (cancel.operator_id, cancel.reason) == (first.operator_id, "ring_timeout")
    [requeue] = d.of(Enqueue, decisions)
    assert requeue.reason == "requeued"
    [second] = d.of(Offer, decisions)
    assert second.call_id == "c-1"
    assert second.operator_id != first.operator_id
    assert d.state(first.operator_id) == "available"
    assert d.operator(first.operator_id).missed_in_row == 1


def test_a_lone_operator_who_missed_is_offered_the_call_again(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 4}}, max_missed_offers=5)
    d.login("op-aoki")
    d.send(CallArrived("c-1", "portal"))
    again = d.of(Offer, d.advance(d.rules.ring_timeout_s))
    assert [(o.call_id, o.operator_id) for o in again] == [("c-1", "op-aoki")]


def test_repeated_misses_set_the_operator_away_and_tell_the_supervisor(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 4}, "op-baba": {"skysea": 4}}, max_missed_offers=3)
    d.login("op-aoki", "op-baba")
    d.send(CallArrived("c-1", "portal"))
    decisions: list[Any] = []
    for _ in range(3):
        decisions = d.advance(d.rules.ring_timeout_s)
    assert d.state("op-aoki") == "away"
    assert d.operator("op-aoki").reason == "missed_calls"
    [note] = d.of(NotifySupervisor, decisions)
    assert (note.kind, note.operator_id) == ("missed_calls", "op-aoki")
    # the call is not lost: it waits for the next operator
    [queue] = [q for q in d.router.queues(d.now) if q.service == "portal"]
    assert [w.call_id for w in queue.waiting] == ["c-1"]
    assert queue.waiting[0].state == "queued"
    assert d.router.next_deadline() is not None  # overflow/max-wait still ticking
    # a call event never flips the paused operator back
    d.send(CallArrived("c-2", "portal"))
    assert d.state("op-aoki") == "away"
    # coming back clears the count
    [offer] = d.of(Offer, d.send(OperatorStateRequested("op-aoki", "available")))
    assert offer.call_id == "c-1"
    d.send(OfferAnswered("c-1", "op-aoki"))
    assert d.operator("op-aoki").missed_in_row == 0


def test_an_answer_resets_the_consecutive_miss_count(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 4}}, max_missed_offers=2)
    d.login("op-aoki")
    d.send(CallArrived("c-1", "portal"))
    d.advance(d.rules.ring_timeout_s)
    assert d.operator("op-aoki").missed_in_row == 1
    d.send(OfferAnswered("c-1", "op-aoki"))
    assert d.operator("op-aoki").missed_in_row == 0


def test_a_failed_offer_moves_the_call_on(desk: Build) -> None:
    d = desk(TWO)
    d.login("op-aoki", "op-baba")
    [first] = d.of(Offer, d.send(CallArrived("c-1", "portal")))
    decisions = d.send(OfferFailed("c-1", first.operator_id, FailReason.BUSY))
    assert not d.of(CancelOffer, decisions)  # the phone already gave up
    [second] = d.of(Offer, decisions)
    assert second.operator_id != first.operator_id
    changes = [c for c in d.of(OperatorStateChanged, decisions)
               if c.operator_id == first.operator_id]
    assert [(c.old, c.new) for c in changes] == [("reserved", "available")]
    assert changes[0].reason == "offer_failed:busy"


def test_ring_all_timeout_counts_a_miss_for_everyone_rung(desk: Build) -> None:
    d = desk(TWO, service_overrides={"portal": {"strategy": "ring_all"}})
    d.login("op-aoki", "op-baba")
    assert len(d.of(Offer, d.send(CallArrived("c-1", "portal")))) == 2
    decisions = d.advance(d.rules.ring_timeout_s)
    assert sorted(c.operator_id for c in d.of(CancelOffer, decisions)) == ["op-aoki", "op-baba"]
    assert len(d.of(Offer, decisions)) == 2  # rung again: nobody else to try
    assert [d.operator(o).missed_in_row for o in ("op-aoki", "op-baba")] == [1, 1]


def test_ring_all_one_failure_keeps_the_others_ringing(desk: Build) -> None:
    d = desk(TWO, service_overrides={"portal": {"strategy": "ring_all"}})
    d.login("op-aoki", "op-baba")
    d.send(CallArrived("c-1", "portal"))
    decisions = d.send(OfferFailed("c-1", "op-aoki", FailReason.REJECTED))
    assert not d.of(Offer, decisions)
    assert d.router.call("c-1").offered_to == ("op-baba",)
    assert d.state("op-aoki") == "available"
    d.send(OfferAnswered("c-1", "op-baba"))
    assert d.router.call("c-1").state == "connected"


def test_going_away_while_ringing_withdraws_the_offer(desk: Build) -> None:
    d = desk(TWO)
    d.login("op-aoki", "op-baba")
    [first] = d.of(Offer, d.send(CallArrived("c-1", "portal")))
    decisions = d.send(OperatorStateRequested(first.operator_id, "away", "break"))
    [cancel] = d.of(CancelOffer, decisions)
    assert cancel.reason == "operator_state"
    changes = [c for c in d.of(OperatorStateChanged, decisions)
               if c.operator_id == first.operator_id]
    assert [(c.old, c.new, c.reason) for c in changes] == [("reserved", "away", "break")]
    assert d.operator(first.operator_id).missed_in_row == 0
    [second] = d.of(Offer, decisions)
    assert second.call_id == "c-1" and second.operator_id != first.operator_id


def test_logging_off_while_ringing_requeues_the_call(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 4}, "op-baba": {"portal": 2}})
    d.login("op-aoki", "op-baba")
    d.send(CallArrived("c-1", "portal"))
    decisions = d.send(OperatorStateRequested("op-aoki", "offline"))
    assert d.state("op-aoki") == "offline"
    assert [e.reason for e in d.of(Enqueue, decisions)] == ["requeued"]
    assert d.router.call("c-1").state == "queued"  # op-baba is below the primary proficiency


def test_asking_for_available_while_ringing_changes_nothing(desk: Build) -> None:
    d = desk(TWO)
    d.login("op-aoki")
    d.send(CallArrived("c-1", "portal"))
    [rejected] = d.send(OperatorStateRequested("op-aoki", "available"))
    assert rejected.error_id == "no_change"
    assert d.router.call("c-1").offered_to == ("op-aoki",)
