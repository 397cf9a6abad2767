"""Strategies, cross-service wait order, priority callers and incidents."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cti.routing import (
    CallArrived,
    CallFinished,
    CancelOffer,
    Connect,
    IncidentPriority,
    NotifySupervisor,
    Offer,
    OfferAnswered,
    OperatorStateRequested,
)

Build = Callable[..., Any]


def serve(d: Any, call_id: str, operator_id: str) -> None:
    """Answer, talk, finish and sit out the wrap-up."""
    d.send(OfferAnswered(call_id, operator_id))
    d.send(CallFinished(call_id))
    d.advance(d.rules.services[0].wrap_up_s)


def test_arrival_with_a_free_operator_offers_at_once(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 4}})
    d.login("op-aoki")
    d.now = 5.0
    decisions = d.send(CallArrived("c-1", "portal", "tag-x"))
    [offer] = d.of(Offer, decisions)
    assert (offer.call_id, offer.operator_id, offer.service) == ("c-1", "op-aoki", "portal")
    assert (offer.caller_tag, offer.level, offer.taken, offer.waited_s) == ("tag-x", 0, False, 0)
    assert d.state("op-aoki") == "reserved"
    d.now = 8.0
    [connect] = d.of(Connect, d.send(OfferAnswered("c-1", "op-aoki")))
    assert connect.waited_s == 3.0
    assert d.state("op-aoki") == "on_call"
    assert d.router.call("c-1").state == "connected"


def test_longest_idle_operator_gets_the_call(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 4}, "op-baba": {"portal": 4}, "op-chiba": {"portal": 4}})
    d.login("op-baba")
    d.advance(10)
    d.login("op-chiba")
    d.advance(10)
    d.login("op-aoki")
    offers = d.of(Offer, d.send(CallArrived("c-1", "portal")))
    assert [o.operator_id for o in offers] == ["op-baba"]
    offers = d.of(Offer, d.send(CallArrived("c-2", "portal")))
    assert [o.operator_id for o in offers] == ["op-chiba"]


def test_idle_time_counts_from_the_end_of_wrap_up(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 4}, "op-baba": {"portal": 4}})
    d.login("op-aoki", "op-baba")
    d.send(CallArrived("c-1", "portal"))  # op-aoki: logged in first, equally idle -> config order
    serve(d, "c-1", "op-aoki")
    # op-aoki became available just now; op-baba has been idle since login
    [offer] = d.of(Offer, d.send(CallArrived("c-2", "portal")))
    assert offer.operator_id == "op-baba"


def test_highest_proficiency_then_longest_idle(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 3}, "op-baba": {"portal": 5}, "op-chiba": {"portal": 5}},
             service_overrides={"portal": {"strategy": "proficiency_then_idle"}})
    d.login("op-aoki")
    d.advance(5)
    d.login("op-chiba")
    d.advance(5)
    d.login("op-baba")
    [first] = d.of(Offer, d.send(CallArrived("c-1", "portal")))
    [second] = d.of(Offer, d.send(CallArrived("c-2", "portal")))
    [third] = d.of(Offer, d.send(CallArrived("c-3", "portal")))
    assert [first.operator_id, second.operator_id, third.operator_id] == [
        "op-chiba", "op-baba", "op-aoki"]


def test_round_robin_rotates_through_the_operators(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 4}, "op-baba": {"portal": 4}, "op-chiba": {"portal": 4}},
             service_overrides={"portal": {"strategy": "round_robin", "wrap_up_s": 0}})
    d.login("op-chiba", "op-aoki", "op-baba")
    picked = []
    for n in range(5):
        [offer] = d.of(Offer, d.send(CallArrived(f"c-{n}", "portal")))
        picked.append(offer.operator_id)
        serve(d, offer.call_id, offer.operator_id)
    assert picked == ["op-aoki", "op-baba", "op-chiba", "op-aoki", "op-baba"]


def test_ring_all_rings_everyone_free_and_the_first_answer_wins(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 4}, "op-baba": {"portal": 4}, "op-chiba": {"portal": 4},
              "op-doi": {"skysea": 4}},
             service_overrides={"portal": {"strategy": "ring_all"}})
    d.login("op-aoki", "op-baba", "op-chiba", "op-doi")
    offers = d.of(Offer, d.send(CallArrived("c-1", "portal")))
    assert sorted(o.operator_id for o in offers) == ["op-aoki", "op-baba", "op-chiba"]
    answered = d.send(OfferAnswered("c-1", "op-baba"))
    cancels = d.of(CancelOffer, answered)
    assert sorted(c.operator_id for c in cancels) == ["op-aoki", "op-chiba"]
    assert {c.reason for c in cancels} == {"answered_elsewhere"}
    assert [d.state(o) for o in ("op-aoki", "op-baba", "op-chiba")] == [
        "available", "on_call", "available"]
    # missed counters untouched: losing a ring-all race is not a missed call
    assert d.operator("op-aoki").missed_in_row == 0


def test_an_operator_freeing_up_takes_the_longest_waiting_caller_across_services(
    desk: Build,
) -> None:
    d = desk({"op-aoki": {"portal": 4, "skysea": 4, "licenses": 4}})
    d.login("op-aoki")
    d.send(CallArrived("c-first", "portal"))
    d.send(OfferAnswered("c-first", "op-aoki"))
    d.now = 1
    d.send(CallArrived("c-lic", "licenses"))
    d.now = 2
    d.send(CallArrived("c-sky", "skysea"))
    d.now = 3
    d.send(CallArrived("c-por", "portal"))
    d.send(CallFinished("c-first"))
    offers = d.of(Offer, d.advance(10))
    assert [o.call_id for o in offers] == ["c-lic"]


def test_calls_in_one_service_are_offered_in_arrival_order(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 4}}, service_overrides={"portal": {"wrap_up_s": 0}})
    d.send(OperatorStateRequested("op-aoki", "away", "meeting"))
    for n in range(4):
        d.now = n
        d.send(CallArrived(f"c-{n}", "portal"))
    decisions = d.send(OperatorStateRequested("op-aoki", "available"))
    order = []
    for _ in range(4):
        [offer] = d.of(Offer, decisions)
        order.append(offer.call_id)
        d.send(OfferAnswered(offer.call_id, "op-aoki"))
        d.send(CallFinished(offer.call_id))
        decisions = d.advance(0)  # a zero wrap-up still passes through wrap_up
    assert order == ["c-0", "c-1", "c-2", "c-3"]


def test_a_priority_caller_jumps_the_queue(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 4}}, priority_callers=frozenset({"tag-crisis-office"}))
    d.send(OperatorStateRequested("op-aoki", "away", "meeting"))
    d.send(CallArrived("c-1", "portal", "tag-someone"))
    d.send(CallArrived("c-2", "portal", "tag-someone-else"))
    enqueue = d.send(CallArrived("c-vip", "portal", "tag-crisis-office"))
    assert enqueue[0].position == 1
    assert d.router.call("c-vip").priority == 1
    [offer] = d.of(Offer, d.send(OperatorStateRequested("op-aoki", "available")))
    assert offer.call_id == "c-vip"
    assert offer.priority == 1


def test_an_incident_raises_one_service_above_older_calls(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 4, "isolation": 4}})
    d.send(OperatorStateRequested("op-aoki", "away", "meeting"))
    d.send(CallArrived("c-portal", "portal"))
    d.now = 1
    d.send(CallArrived("c-iso", "isolation"))
    notes = d.of(NotifySupervisor, d.send(IncidentPriority("isolation", 2)))
    assert [n.kind for n in notes] == ["incident_priority"]
    queues = {q.service: q for q in d.router.queues(d.now)}
    assert queues["isolation"].priority_delta == 2
    assert queues["isolation"].waiting[0].priority == 2
    [offer] = d.of(Offer, d.send(OperatorStateRequested("op-aoki", "available")))
    assert offer.call_id == "c-iso"


def test_a_negative_incident_delta_lowers_a_service(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 4, "isolation": 4}})
    d.send(OperatorStateRequested("op-aoki", "away", "meeting"))
    d.send(IncidentPriority("portal", -1))
    d.send(CallArrived("c-portal", "portal"))
    d.now = 1
    d.send(CallArrived("c-iso", "isolation"))
    [offer] = d.of(Offer, d.send(OperatorStateRequested("op-aoki", "available")))
    assert offer.call_id == "c-iso"
