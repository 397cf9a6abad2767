"""Helpers shared by the knowledge tests (imported as ``knowledge_support``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cti.storage.knowledge import Sessions
from cti.storage.tickets import apply_call_event, update_ticket
from cti.tickets.rules import CallRecordEvent
from cti.tickets.status import check_transition

T0 = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo


async def make_ticket(sessions: Sessions, n: int, *, service: str = "isolation",
                      summary: str = "", answer: str = "", status: str = "resolved",
                      at: datetime = T0, category: str | None = None) -> int:
    """A ticket from an answered call (events through the real writer path), then edited."""
    call_id = f"kn-call-{n}"
    steps: list[tuple[str, dict[str, Any]]] = [
        ("offered", {"caller_hash": f"h-{n}", "caller_display": "2345"}),
        ("service_selected", {"service": service}), ("queued", {"service": service}),
        ("connected", {"operator_id": "op01"}), ("ended", {"hung_up_by": "caller"}),
    ]
    ticket_id = None
    for seq, (kind, data) in enumerate(steps, start=1):
        event = CallRecordEvent(call_id, seq, at + timedelta(seconds=seq), kind, data)
        ticket_id = await apply_call_event(sessions, event, at) or ticket_id
    assert ticket_id is not None
    changes: dict[str, Any] = {"summary": summary, "answer": answer}
    if category is not None:
        changes["category"] = category
    if status != "in_progress":
        changes["status"] = status
    await update_ticket(sessions, ticket_id, changes, at, check_status=check_transition)
    return ticket_id
