"""Operators added, re-skilled and removed while the router runs (the admin view, no restart)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cti.routing import (
    CallArrived,
    CallFinished,
    Offer,
    OfferAnswered,
    OfferCallback,
    OperatorConfigured,
    OperatorRemoved,
    OperatorStateChanged,
    Rejected,
    RejectionReason,
    Strategy,
)

Build = Callable[..., Any]


def test_an_added_operator_takes_calls_by_the_skill_given(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 5}})
    assert d.send(OperatorConfigured("op-new", (("licenses", 4),))) == []
    assert d.state("op-new") == "offline"
    assert d.operator("op-new").skills == (("licenses", 4),)
    d.login("op-aoki", "op-new")
    [offer] = d.of(Offer, d.send(CallArrived("c-1", "licenses")))
    assert offer.operator_id == "op-new"
    [offer] = d.of(Offer, d.send(CallArrived("c-2", "portal")))
    assert offer.operator_id == "op-aoki"


def test_a_new_skill_reaches_a_call_already_waiting(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 5}, "op-baba": {"skysea": 4}})
    d.login("op-aoki", "op-baba")
    d.send(CallArrived("c-1", "portal"))
    d.send(OfferAnswered("c-1", "op-aoki"))
    assert not d.of(Offer, d.send(CallArrived("c-2", "portal")))  # op-baba cannot take portal
    [offer] = d.of(Offer, d.send(OperatorConfigured("op-baba", (("portal", 3), ("skysea", 4)))))
    assert (offer.call_id, offer.operator_id) == ("c-2", "op-baba")


def test_losing_the_last_logged_in_skill_offers_waiting_callers_a_callback(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 5, "skysea": 3}, "op-baba": {"skysea": 5}})
    d.login("op-baba")
    d.advance(1.0)
    d.login("op-aoki")
    d.send(CallArrived("c-1", "skysea"))  # op-baba has waited longest
    d.send(OfferAnswered("c-1", "op-baba"))
    d.send(CallArrived("c-2", "portal"))
    d.send(OfferAnswered("c-2", "op-aoki"))
    d.send(CallArrived("c-3", "portal"))  # waits for op-aoki
    decisions = d.send(OperatorConfigured("op-aoki", (("skysea", 3),)))
    [callback] = d.of(OfferCallback, decisions)
    assert (callback.call_id, callback.reason) == ("c-3", "no_skilled_operator")


def test_a_removed_operator_is_logged_off_and_gone(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 5}, "op-baba": {"portal": 5}})
    d.login("op-aoki", "op-baba")
    [change] = d.of(OperatorStateChanged, d.send(OperatorRemoved("op-aoki")))
    assert (change.operator_id, change.new, change.reason) == ("op-aoki", "offline", "removed")
    assert [o.operator_id for o in d.router.operators()] == ["op-baba"]
    [offer] = d.of(Offer, d.send(CallArrived("c-1", "portal")))
    assert offer.operator_id == "op-baba"
    [rejected] = d.send(OperatorRemoved("op-aoki"))
    assert isinstance(rejected, Rejected) and rejected.error_id == RejectionReason.UNKNOWN_OPERATOR


def test_an_operator_on_a_call_cannot_be_removed(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 5}})
    d.login("op-aoki")
    d.send(CallArrived("c-1", "portal"))
    [rejected] = d.send(OperatorRemoved("op-aoki"))  # ringing
    assert rejected.error_id == RejectionReason.OPERATOR_BUSY
    d.send(OfferAnswered("c-1", "op-aoki"))
    [rejected] = d.send(OperatorRemoved("op-aoki"))
    assert rejected.error_id == RejectionReason.OPERATOR_BUSY
    assert d.state("op-aoki") == "on_call"


def test_bad_skills_are_rejected_and_change_nothing(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 5}})
    for skills, reason in (((("nowhere", 3),), RejectionReason.UNKNOWN_SERVICE),
                           ((("portal", 6),), RejectionReason.INVALID_SKILL),
                           ((("portal", 0),), RejectionReason.INVALID_SKILL)):
        [rejected] = d.send(OperatorConfigured("op-aoki", skills))
        assert rejected.error_id == reason
    assert d.operator("op-aoki").skills == (("portal", 5),)


def test_round_robin_goes_round_the_operators_left_after_a_removal(desk: Build) -> None:
    d = desk({f"op-{n}": {"portal": 5} for n in "abcd"},
             service_overrides={"portal": {"strategy": Strategy.ROUND_ROBIN, "wrap_up_s": 0.0}})
    d.login("op-a", "op-b", "op-c", "op-d")
    picked = []

    def one_call(n: int) -> None:
        [offer] = d.of(Offer, d.send(CallArrived(f"c-{n}", "portal")))
        picked.append(offer.operator_id)
        d.send(OfferAnswered(f"c-{n}", offer.operator_id))
        d.send(CallFinished(f"c-{n}"))
        d.advance(0.1)  # the wrap-up of 0 s ends

    one_call(0)
    one_call(1)
    d.send(OperatorRemoved("op-c"))
    for n in range(2, 6):
        one_call(n)
    assert picked == ["op-a", "op-b", "op-d", "op-a", "op-b", "op-d"]
