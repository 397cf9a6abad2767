"""Calls a crash left open are closed at start-up, on both backends, with their last state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.storage.recovery import close_unfinished_calls
from cti.storage.tables import CallEventRow
from cti.storage.tickets import TicketFilter, apply_call_event, get_ticket, list_tickets
from cti.tickets.rules import CallRecordEvent

T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
LATER = T0 + timedelta(hours=3)
Sessions = async_sessionmaker[AsyncSession]

STEPS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "in-ivr@h": [("offered", {"caller_display": "2345"})],
    "waiting@h": [("offered", {}), ("service_selected", {"service": "skysea"}),
                  ("queued", {"service": "skysea", "position": 1})],
    "ringing@h": [("offered", {}), ("queued", {"service": "portal"}),
                  ("operator_offered", {"operator_id": "op03"})],
    "connected@h": [("offered", {}), ("queued", {"service": "isolation"}),
                    ("operator_offered", {"operator_id": "op01"}),
                    ("connected", {"operator_id": "op01"})],
    "callback@h": [("offered", {"caller_display": "2345"}), ("queued", {"service": "other"}),
                   ("callback_requested", {"reason": "caller_asked", "reachable": True})],
    "finished@h": [("offered", {}), ("queued", {"service": "skysea"}),
                   ("ended", {"hung_up_by": "caller", "reason": "caller_hung_up"})],
}


async def store_calls(sessions: Sessions) -> None:
    for n, (call_id, steps) in enumerate(STEPS.items()):
        for seq, (kind, data) in enumerate(steps, start=1):
            at = T0 + timedelta(minutes=n, seconds=10 * seq)
            await apply_call_event(sessions, CallRecordEvent(call_id, seq, at, kind, data), at)


async def ticket_of(sessions: Sessions, call_id: str) -> tuple[Any, list[CallRecordEvent]]:
    [ticket] = [t for t in await list_tickets(sessions, TicketFilter()) if t.call_id == call_id]
    return await get_ticket(sessions, ticket.id)


async def test_unfinished_calls_are_closed_with_their_last_state_once(sessions: Sessions) -> None:
    await store_calls(sessions)
    result = await close_unfinished_calls(sessions, LATER, skip={"ringing@h"})
    assert (result.closed, result.skipped) == (4, 1)
    assert result.by_state == {"in_ivr": 1, "waiting": 1, "connected": 1,
                               "callback_requested": 1}

    expected = {  # call: (outcome, status, last_state)
        "in-ivr@h": ("interrupted", "new", {"state": "in_ivr"}),
        "waiting@h": ("interrupted", "new", {"state": "waiting", "service": "skysea"}),
        "connected@h": ("interrupted", "in_progress",
                        {"state": "connected", "service": "isolation", "operator_id": "op01"}),
        "callback@h": ("interrupted", "callback_requested",
                       {"state": "callback_requested", "service": "other", "reachable": True}),
    }
    for call_id, (outcome, status, state) in expected.items():
        ticket, timeline = await ticket_of(sessions, call_id)
        assert (ticket.outcome, ticket.status) == (outcome, status), call_id
        end = timeline[-1]
        assert end.kind == "ended" and end.data["recovered"] is True
        assert end.data["last_state"] == state and end.data["hung_up_by"] == "system"
        assert end.data["detected_at"] == LATER.isoformat()
        assert end.at == timeline[-2].at  # the outage does not count as waiting or talking
    finished, timeline = await ticket_of(sessions, "finished@h")
    assert finished.outcome == "abandoned_queue" and len(timeline) == 3
    ringing, timeline = await ticket_of(sessions, "ringing@h")
    assert ringing.outcome is None and timeline[-1].kind == "operator_offered"

    callbacks = await list_tickets(sessions, TicketFilter(status="callback_requested"))
    assert [t.call_id for t in callbacks] == ["callback@h"]

    async with sessions() as session:
        before = await session.scalar(select(func.count()).select_from(CallEventRow))
    again = await close_unfinished_calls(sessions, LATER + timedelta(hours=1), skip={"ringing@h"})
    assert (again.closed, again.skipped) == (0, 1)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(CallEventRow)) == before
    last = await close_unfinished_calls(sessions, LATER)
    assert last.closed == 1 and last.by_state == {"ringing_operator": 1}
