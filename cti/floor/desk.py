"""An operator's desk as the service knows it: state, the call being offered or talked, the
tickets still open. The console rebuilds its screen from this on load, reconnect or late login,
so a reload never loses the pop or the ticket form."""

from __future__ import annotations

from typing import Any

from cti.calls.center import CallCenter
from cti.storage import tickets as store
from cti.tickets.status import OPEN_STATUSES

OPEN_TICKETS_SHOWN = 50


def operator_state(center: CallCenter, operator_id: str) -> dict[str, Any] | None:
    """The operator's routing state with seconds in it and wrap-up time left."""
    view = next((v for v in center.router.operators() if v.operator_id == operator_id), None)
    if view is None:
        return None
    now = center.now()
    return {
        "id": operator_id, "state": view.state, "reason": view.reason,
        # since 0: not changed since the service started (no meaningful duration)
        "in_state_s": round(max(0.0, now - view.since), 1) if view.since else None,
        "call_id": view.call_id,
        "pending_state": view.pending_state, "pending_reason": view.pending_reason,
        "wrap_up_left_s": (round(max(0.0, view.wrap_up_ends_at - now), 1)
                           if view.wrap_up_ends_at is not None and view.state == "wrap_up"
                           else None),
    }


async def open_tickets(sessions: store.Sessions, operator_id: str) -> list[store.TicketView]:
    """The operator's tickets that still need work, newest first."""
    return await store.list_tickets(sessions, store.TicketFilter(
        operator_id=operator_id, statuses=OPEN_STATUSES, limit=OPEN_TICKETS_SHOWN))


def current_ticket_id(pop: dict[str, Any] | None, open_: list[store.TicketView]) -> int | None:
    """The ticket the form should show: the current call's, else the newest one still being
    worked on (the operator is in wrap-up or came back after the call ended)."""
    if pop is not None:  # a call now: its ticket, or none yet ("ticket_ready" follows)
        return int(pop["ticket_id"]) if pop.get("ticket_id") is not None else None
    # "new" too: the call's end may not be applied yet (the writer moves it to in_progress)
    working = [t for t in open_ if t.status in ("new", "in_progress")]
    return working[0].id if working else None
