"""Read-only snapshots for the API, abandon stages and the router's wake-up time."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from cti.routing import (
    Abandon,
    CallArrived,
    CallClosed,
    CallerHungUp,
    CancelOffer,
    OperatorStateRequested,
)

Build = Callable[..., Any]
SKILLS = {"op-aoki": {"portal": 4, "skysea": 2}, "op-baba": {"skysea": 5}}


def test_queue_view_lists_waiting_calls_with_their_wait(desk: Build) -> None:
    d = desk(SKILLS)
    d.login("op-aoki")
    d.send(OperatorStateRequested("op-baba", "away", "break"))
    d.send(CallArrived("c-1", "portal"))  # rings op-aoki
    d.now = 10
    d.send(CallArrived("c-2", "portal"))
    d.now = 25
    d.send(CallArrived("c-3", "skysea"))
    queues = {q.service: q for q in d.router.queues(30.0)}
    assert set(queues) == {"isolation", "skysea", "portal", "licenses", "telework", "other"}
    portal = queues["portal"]
    assert [(w.call_id, w.state, w.position, w.wait_s) for w in portal.waiting] == [
        ("c-1", "offered", None, 30.0), ("c-2", "queued", 1, 20.0)]
    assert portal.waiting[0].offered_to == ("op-aoki",)
    assert portal.longest_wait_s == 30.0
    assert [w.call_id for w in queues["skysea"].waiting] == ["c-3"]
    assert queues["telework"].waiting == () and queues["telework"].longest_wait_s == 0.0


def test_operator_view_shows_state_skills_and_call(desk: Build) -> None:
    d = desk(SKILLS)
    d.login("op-aoki")
    d.send(CallArrived("c-1", "portal"))
    aoki, baba = d.router.operators()
    assert (aoki.operator_id, aoki.state, aoki.call_id) == ("op-aoki", "reserved", "c-1")
    assert aoki.skills == (("portal", 4), ("skysea", 2))
    assert (baba.state, baba.call_id) == ("offline", None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        aoki.state = "available"


def test_views_are_snapshots_not_live_objects(desk: Build) -> None:
    d = desk(SKILLS)
    d.login("op-aoki")
    before = d.router.operators()
    d.send(CallArrived("c-1", "portal"))
    assert before[0].state == "available"
    assert d.router.call("c-404") is None


@pytest.mark.parametrize(("ring", "stage"), [(False, "queued"), (True, "ringing")])
def test_abandon_reports_the_stage(desk: Build, ring: bool, stage: str) -> None:
    d = desk(SKILLS)
    if ring:
        d.login("op-aoki")
    else:
        d.send(OperatorStateRequested("op-aoki", "away", "break"))
    d.send(CallArrived("c-1", "portal"))
    d.now = 7
    decisions = d.send(CallerHungUp("c-1"))
    [abandon] = d.of(Abandon, decisions)
    assert (abandon.stage, abandon.waited_s) == (stage, 7)
    [closed] = d.of(CallClosed, decisions)
    assert closed.outcome == "abandoned"
    assert bool(d.of(CancelOffer, decisions)) is ring
    assert d.state("op-aoki") == ("available" if ring else "away")
    assert d.router.call("c-1").closed_at == 7


def test_next_deadline_is_the_earliest_pending_timer(desk: Build) -> None:
    d = desk(SKILLS, announce_interval_s=None)
    assert d.router.next_deadline() is None
    d.send(OperatorStateRequested("op-aoki", "away", "break"))
    d.send(CallArrived("c-1", "portal"))
    assert d.router.next_deadline() == 60.0  # overflow_after_s
    d.send(CallerHungUp("c-1"))
    assert d.router.next_deadline() is None
    assert d.router.handle_timer(1000.0) == []
