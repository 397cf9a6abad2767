"""Ticket facts and outcomes derived from call timelines (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cti.tickets.rules import CallRecordEvent, automatic_status, derive
from cti.tickets.status import IllegalTicketTransition, check_transition

T0 = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)


def timeline(*steps: tuple[float, str, dict[str, Any]]) -> list[CallRecordEvent]:
    return [CallRecordEvent("c1", n, T0 + timedelta(seconds=s), kind, data)
            for n, (s, kind, data) in enumerate(steps, start=1)]


OFFER = (0, "offered", {"caller_hash": "h1", "caller_display": "2345", "sip_call_id": "x@y"})


@pytest.mark.parametrize(
    ("steps", "outcome", "status"),
    [
        ([OFFER, (8, "service_selected", {"service": "skysea"}), (8, "queued", {"service": "skysea"}),
          (38, "operator_offered", {"operator_id": "op02"}), (41, "connected", {"operator_id": "op02"}),
          (341, "ended", {"reason": "bye", "hung_up_by": "caller"})], "answered", "in_progress"),
        ([OFFER, (3, "ended", {"reason": "bye", "hung_up_by": "caller"})], "abandoned_ivr", "closed"),
        ([OFFER, (8, "queued", {"service": "portal"}),
          (30, "ended", {"reason": "media_timeout", "hung_up_by": "system"})], "interrupted", "new"),
        ([OFFER, (1, "incident_message", {}), (20, "ended", {"hung_up_by": "caller"})],
         "deflected", "closed"),
        ([OFFER, (1, "incident_message", {}), (9, "service_selected", {"service": "isolation"}),
          (9, "queued", {"service": "isolation"}), (70, "ended", {"hung_up_by": "caller"})],
         "abandoned_queue", "new"),
        ([OFFER, (1, "after_hours", {"reason_code": "holiday"}), (15, "ended", {"hung_up_by": "system"})],
         "after_hours", "new"),
        ([OFFER, (5, "queued", {"service": "portal"}), (600, "callback_requested", {}),
          (610, "ended", {"hung_up_by": "system"})], "callback_requested", "callback_requested"),
    ],
)
def test_outcomes(steps: list[tuple[float, str, dict[str, Any]]], outcome: str, status: str) -> None:
    events = timeline(*steps)
    facts = derive(events)
    assert facts.outcome == outcome
    assert automatic_status("new", facts, frozenset(e.kind for e in events)) == status
    assert facts.caller_hash == "h1" and facts.received_at == T0


def test_wait_and_talk_times() -> None:
    facts = derive(timeline(OFFER, (8, "queued", {"service": "skysea"}),
                            (41, "connected", {"operator_id": "op02"}),
                            (341, "ended", {"hung_up_by": "operator"})))
    assert (facts.wait_seconds, facts.talk_seconds) == (33.0, 300.0)
    assert facts.operator_id == "op02" and facts.hung_up_by == "operator"


def test_call_in_progress_has_no_outcome_yet() -> None:
    facts = derive(timeline(OFFER, (8, "queued", {"service": "skysea"})))
    assert facts.outcome is None and facts.wait_seconds is None and facts.service == "skysea"


def test_moved_call_takes_the_new_service_and_duplicates_do_not_count() -> None:
    events = timeline(OFFER, (8, "queued", {"service": "skysea"}), (30, "moved", {"service": "licenses"}))
    facts = derive([*events, events[1]])
    assert facts.service == "licenses"


def test_events_never_override_an_operators_status() -> None:
    facts = derive(timeline(OFFER, (3, "ended", {"hung_up_by": "caller"})))
    assert automatic_status("resolved", facts, frozenset({"offered", "ended"})) == "resolved"


def test_event_validation() -> None:
    with pytest.raises(ValueError, match="unknown call event kind"):
        CallRecordEvent("c1", 1, T0, "exploded")
    with pytest.raises(ValueError, match="timezone-aware"):
        CallRecordEvent("c1", 1, datetime(2026, 4, 1), "offered")
    event = CallRecordEvent("c1", 4, T0, "queued", {"service": "portal"})
    assert CallRecordEvent.from_json(event.to_json()) == event


def test_status_table() -> None:
    assert check_transition("new", "in_progress") == "in_progress"
    assert check_transition("closed", "reopened") == "reopened"
    with pytest.raises(IllegalTicketTransition, match="allowed: reopened"):
        check_transition("closed", "in_progress")
    with pytest.raises(IllegalTicketTransition):
        check_transition("resolved", "new")
