"""Operator states: wrap-up per service and its one extension, pending states, forcing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cti.routing import (
    CallArrived,
    CallerHungUp,
    CallFinished,
    Offer,
    OfferAnswered,
    OperatorStateChanged,
    OperatorStatePending,
    OperatorStateRequested,
    Rejected,
    WrapUpExtended,
    WrapUpScheduled,
)

Build = Callable[..., Any]
SKILLS = {"op-aoki": {"portal": 4, "skysea": 4}}
WRAP = {"portal": {"wrap_up_s": 30.0}, "skysea": {"wrap_up_s": 90.0}}


def talk(d: Any, call_id: str, service: str, operator_id: str = "op-aoki") -> list[Any]:
    d.send(CallArrived(call_id, service))
    d.send(OfferAnswered(call_id, operator_id))
    return list(d.send(CallFinished(call_id)))


def test_wrap_up_lasts_the_service_time_and_blocks_offers(desk: Build) -> None:
    d = desk(SKILLS, service_overrides=WRAP)
    d.login("op-aoki")
    decisions = talk(d, "c-1", "skysea")
    [scheduled] = d.of(WrapUpScheduled, decisions)
    assert scheduled.ends_at == d.now + 90.0
    assert d.state("op-aoki") == "wrap_up"
    assert not d.of(Offer, d.send(CallArrived("c-2", "portal")))  # no offer during wrap-up
    assert not d.of(Offer, d.advance(89.0))
    assert d.state("op-aoki") == "wrap_up"
    decisions = d.advance(1.0)
    [change] = d.of(OperatorStateChanged, decisions)[:1]
    assert (change.old, change.new, change.reason) == ("wrap_up", "available", "wrap_up_done")
    assert [o.call_id for o in d.of(Offer, decisions)] == ["c-2"]


def test_wrap_up_time_follows_the_service_of_the_call(desk: Build) -> None:
    d = desk(SKILLS, service_overrides=WRAP)
    d.login("op-aoki")
    [scheduled] = d.of(WrapUpScheduled, talk(d, "c-1", "portal"))
    assert scheduled.ends_at - d.now == 30.0


def test_a_caller_hanging_up_mid_talk_also_leads_to_wrap_up(desk: Build) -> None:
    d = desk(SKILLS, service_overrides=WRAP)
    d.login("op-aoki")
    d.send(CallArrived("c-1", "portal"))
    d.send(OfferAnswered("c-1", "op-aoki"))
    decisions = d.send(CallerHungUp("c-1"))
    assert d.state("op-aoki") == "wrap_up"
    assert d.router.call("c-1").state == "ended"
    assert d.of(WrapUpScheduled, decisions)


def test_wrap_up_extends_once(desk: Build) -> None:
    d = desk(SKILLS, service_overrides=WRAP)
    d.login("op-aoki")
    talk(d, "c-1", "portal")
    d.advance(20)
    [extended] = d.of(WrapUpScheduled, d.send(WrapUpExtended("op-aoki")))
    assert extended.extended and extended.ends_at == 60.0
    [again] = d.send(WrapUpExtended("op-aoki"))
    assert isinstance(again, Rejected)
    assert again.error_id == "wrap_up_already_extended"
    d.advance(39)
    assert d.state("op-aoki") == "wrap_up"
    d.advance(1)
    assert d.state("op-aoki") == "available"


def test_extension_outside_wrap_up_is_rejected(desk: Build) -> None:
    d = desk(SKILLS)
    d.login("op-aoki")
    [rejected] = d.send(WrapUpExtended("op-aoki"))
    assert isinstance(rejected, Rejected) and rejected.error_id == "not_in_wrap_up"


def test_the_operator_cannot_cut_their_own_wrap_up_short(desk: Build) -> None:
    d = desk(SKILLS, service_overrides=WRAP)
    d.login("op-aoki")
    talk(d, "c-1", "portal")
    [pending] = d.send(OperatorStateRequested("op-aoki", "available"))
    assert isinstance(pending, OperatorStatePending)
    assert d.state("op-aoki") == "wrap_up"
    d.advance(30)
    assert d.state("op-aoki") == "available"


def test_a_supervisor_can_end_a_wrap_up(desk: Build) -> None:
    d = desk(SKILLS, service_overrides=WRAP)
    d.login("op-aoki")
    talk(d, "c-1", "portal")
    d.send(CallArrived("c-2", "portal"))
    decisions = d.send(OperatorStateRequested("op-aoki", "available", by_supervisor=True))
    changes = d.of(OperatorStateChanged, decisions)
    assert (changes[0].old, changes[0].new) == ("wrap_up", "available")
    assert [o.call_id for o in d.of(Offer, decisions)] == ["c-2"]
    assert d.router.next_deadline() != 30.0  # the old wrap-up timer is gone


def test_going_away_during_a_call_applies_after_wrap_up_and_sticks(desk: Build) -> None:
    d = desk(SKILLS, service_overrides=WRAP)
    d.login("op-aoki")
    d.send(CallArrived("c-1", "portal"))
    d.send(OfferAnswered("c-1", "op-aoki"))
    [pending] = d.send(OperatorStateRequested("op-aoki", "away", "meeting"))
    assert (pending.state, pending.reason) == ("away", "meeting")
    assert d.operator("op-aoki").pending_state == "away"
    d.send(CallArrived("c-2", "portal"))
    d.send(CallFinished("c-1"))
    decisions = d.advance(30)
    assert d.state("op-aoki") == "away"
    assert d.operator("op-aoki").reason == "meeting"
    assert not d.of(Offer, decisions)
    assert d.router.call("c-2").state == "queued"
    # more call events never flip the paused operator
    d.send(CallArrived("c-3", "skysea"))
    d.advance(100)
    assert d.state("op-aoki") == "away"
    # and a pending request is never left over
    assert d.operator("op-aoki").pending_state is None


def test_a_supervisor_forcing_away_during_a_call_waits_for_the_call(desk: Build) -> None:
    d = desk(SKILLS, service_overrides=WRAP)
    d.login("op-aoki")
    d.send(CallArrived("c-1", "portal"))
    d.send(OfferAnswered("c-1", "op-aoki"))
    d.send(OperatorStateRequested("op-aoki", "offline", "shift end", by_supervisor=True))
    assert d.state("op-aoki") == "on_call"  # never drops the caller
    d.send(CallFinished("c-1"))
    assert d.state("op-aoki") == "wrap_up"  # ... nor skips the wrap-up
    d.advance(30)
    assert d.state("op-aoki") == "offline"


def test_a_supervisor_forces_an_idle_operators_state(desk: Build) -> None:
    d = desk(SKILLS)
    d.login("op-aoki")
    [change] = d.send(OperatorStateRequested("op-aoki", "away", "training", by_supervisor=True))
    assert (change.old, change.new, change.reason) == ("available", "away", "training")


def test_away_reasons_can_change_and_duplicates_are_rejected(desk: Build) -> None:
    d = desk(SKILLS)
    d.send(OperatorStateRequested("op-aoki", "away", "break"))
    [change] = d.send(OperatorStateRequested("op-aoki", "away", "meeting"))
    assert (change.old, change.new, change.reason) == ("away", "away", "meeting")
    [rejected] = d.send(OperatorStateRequested("op-aoki", "away", "meeting"))
    assert isinstance(rejected, Rejected) and rejected.error_id == "no_change"


def test_only_available_away_and_offline_can_be_requested(desk: Build) -> None:
    d = desk(SKILLS)
    d.login("op-aoki")
    [rejected] = d.send(OperatorStateRequested("op-aoki", "on_call"))
    assert isinstance(rejected, Rejected) and rejected.error_id == "state_not_requestable"
    [rejected] = d.send(OperatorStateRequested("op-aoki", "sleeping"))
    assert isinstance(rejected, Rejected) and rejected.error_id == "unknown_state"
    assert d.state("op-aoki") == "available"
