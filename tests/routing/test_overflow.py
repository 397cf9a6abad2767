"""Overflow levels, callback/voicemail instead of waiting forever, announcements."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cti.routing import (
    Announce,
    CallArrived,
    CallbackAccepted,
    CallClosed,
    CallFinished,
    CancelOffer,
    NotifySupervisor,
    Offer,
    OfferAnswered,
    OfferCallback,
    OperatorStateRequested,
    Overflow,
)

Build = Callable[..., Any]
MIXED = {"op-expert": {"portal": 5}, "op-junior": {"portal": 1}, "op-other": {"skysea": 4}}


def test_overflow_widens_to_lower_proficiency_then_to_anyone(desk: Build) -> None:
    d = desk(MIXED)
    d.login("op-expert", "op-junior", "op-other")
    d.send(CallArrived("c-busy", "portal"))  # takes op-expert
    d.send(OfferAnswered("c-busy", "op-expert"))
    d.send(CallArrived("c-1", "portal"))
    d.send(CallArrived("c-2", "portal"))
    assert not d.of(Offer, d.advance(59))
    decisions = d.advance(1)  # 60 s: level 1
    assert [(o.call_id, o.level) for o in d.of(Overflow, decisions)] == [("c-1", 1), ("c-2", 1)]
    [offer] = d.of(Offer, decisions)
    assert (offer.call_id, offer.operator_id, offer.level) == ("c-1", "op-junior", 1)
    d.send(OfferAnswered("c-1", "op-junior"))
    decisions = d.advance(60)  # 120 s: level 2 for c-2
    assert [(o.call_id, o.level) for o in d.of(Overflow, decisions)] == [("c-2", 2)]
    [offer] = d.of(Offer, decisions)
    assert (offer.call_id, offer.operator_id, offer.level) == ("c-2", "op-other", 2)


def test_operators_below_the_primary_proficiency_wait_for_overflow(desk: Build) -> None:
    d = desk(MIXED)
    d.login("op-junior")
    assert not d.of(Offer, d.send(CallArrived("c-1", "portal")))
    assert d.state("op-junior") == "available"


def test_max_wait_offers_a_callback(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 4}},
             service_overrides={"portal": {"max_wait_s": 300.0}})
    d.send(OperatorStateRequested("op-aoki", "away", "meeting"))
    d.send(CallArrived("c-1", "portal"))
    assert not d.of(OfferCallback, d.advance(299))
    decisions = d.advance(1)
    [callback] = d.of(OfferCallback, decisions)
    assert (callback.call_id, callback.reason, callback.waited_s) == ("c-1", "max_wait", 300.0)
    [closed] = d.of(CallClosed, decisions)
    assert closed.outcome == "overflowed"
    assert d.router.call("c-1").state == "overflowed"
    assert all(not q.waiting for q in d.router.queues(d.now))


def test_a_call_ringing_at_max_wait_gets_its_chance_first(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 4}},
             service_overrides={"portal": {"max_wait_s": 100.0, "overflow_after_s": 50.0,
                                           "overflow_any_after_s": 80.0}},
             ring_timeout_s=30.0)
    d.send(OperatorStateRequested("op-aoki", "away", "meeting"))
    d.send(CallArrived("c-1", "portal"))
    d.advance(90)
    d.send(OperatorStateRequested("op-aoki", "available"))
    assert d.router.call("c-1").state == "offered"
    d.advance(15)  # past max wait while ringing: no interruption
    assert d.router.call("c-1").state == "offered"
    decisions = d.advance(15)  # ring timeout: now the max wait applies
    assert d.of(CancelOffer, decisions)
    assert [c.reason for c in d.of(OfferCallback, decisions)] == ["max_wait"]


def test_nobody_logged_in_with_the_skill_means_a_callback_at_once(desk: Build) -> None:
    d = desk(MIXED)
    d.login("op-other")  # logged in, but without the portal skill
    decisions = d.send(CallArrived("c-1", "portal"))
    assert [(c.call_id, c.reason) for c in d.of(OfferCallback, decisions)] == [
        ("c-1", "no_skilled_operator")]
    assert [n.kind for n in d.of(NotifySupervisor, decisions)] == ["no_skilled_operator"]


def test_away_operators_still_count_as_logged_in(desk: Build) -> None:
    d = desk(MIXED)
    d.send(OperatorStateRequested("op-junior", "away", "break"))
    decisions = d.send(CallArrived("c-1", "portal"))
    assert not d.of(OfferCallback, decisions)
    assert d.router.call("c-1").state == "queued"


def test_the_last_skilled_operator_logging_off_releases_the_waiting_callers(
    desk: Build,
) -> None:
    d = desk(MIXED)
    d.send(OperatorStateRequested("op-junior", "away", "break"))
    d.login("op-other")
    d.send(CallArrived("c-1", "portal"))
    d.send(CallArrived("c-2", "portal"))
    decisions = d.send(OperatorStateRequested("op-junior", "offline"))
    assert [c.call_id for c in d.of(OfferCallback, decisions)] == ["c-1", "c-2"]
    assert {c.reason for c in d.of(OfferCallback, decisions)} == {"no_skilled_operator"}


def test_a_caller_may_choose_voicemail_while_waiting(desk: Build) -> None:
    d = desk(MIXED)
    d.send(OperatorStateRequested("op-expert", "away", "break"))
    d.send(CallArrived("c-1", "portal"))
    [closed] = d.send(CallbackAccepted("c-1"))
    assert isinstance(closed, CallClosed) and closed.outcome == "voicemail"
    assert d.router.next_deadline() is None


def test_announcements_give_position_and_expected_wait(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 4}, "op-baba": {"portal": 4}},
             service_overrides={"portal": {"default_handle_time_s": 200.0, "wrap_up_s": 10.0,
                                           "overflow_after_s": None,
                                           "overflow_any_after_s": None}},
             announce_interval_s=30.0)
    d.login("op-aoki", "op-baba")
    d.send(CallArrived("c-a", "portal"))
    d.send(OfferAnswered("c-a", "op-aoki"))
    d.send(CallArrived("c-b", "portal"))
    d.send(OfferAnswered("c-b", "op-baba"))
    d.now = 1
    d.send(CallArrived("c-1", "portal"))
    d.now = 2
    d.send(CallArrived("c-2", "portal"))
    decisions = d.advance(30)  # t = 32
    assert [(a.call_id, a.position, a.expected_wait_s) for a in d.of(Announce, decisions)] == [
        ("c-1", 1, 100.0), ("c-2", 2, 200.0)]  # no history yet: default 200 s, 2 staffed
    # one handle time (32 s talk + 10 s wrap-up) replaces the default: 1 x 42 / 2 staffed
    d.send(CallFinished("c-a"))
    d.advance(10)  # op-aoki takes c-1
    d.send(OfferAnswered("c-1", "op-aoki"))
    decisions = d.advance(30)
    assert [(a.call_id, a.position, a.expected_wait_s) for a in d.of(Announce, decisions)] == [
        ("c-2", 1, 21.0)]


def test_no_announcements_while_ringing(desk: Build) -> None:
    d = desk({"op-aoki": {"portal": 4}}, announce_interval_s=10.0, ring_timeout_s=25.0)
    d.login("op-aoki")
    d.send(CallArrived("c-1", "portal"))
    assert not d.of(Announce, d.advance(24))
