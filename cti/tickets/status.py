"""The ticket status machine, as one table.

Operators move tickets along these edges; call events only ever move a ticket out of ``new``
(see ``rules.automatic_status``), so an operator's decision is never overwritten by a late event.
"""

from __future__ import annotations

from typing import Final

STATUSES: Final = (
    "new",
    "callback_requested",
    "in_progress",
    "escalated",
    "resolved",
    "closed",
    "reopened",
)

TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "new": frozenset({"in_progress", "escalated", "resolved", "closed", "callback_requested"}),
    "callback_requested": frozenset({"in_progress", "escalated", "resolved", "closed"}),
    "in_progress": frozenset({"escalated", "resolved", "closed"}),
    "escalated": frozenset({"in_progress", "resolved"}),
    "resolved": frozenset({"closed", "reopened"}),
    "closed": frozenset({"reopened"}),
    "reopened": frozenset({"in_progress", "escalated", "resolved", "closed"}),
}

# Statuses an operator's list shows as "needs work".
OPEN_STATUSES: Final = frozenset({"new", "callback_requested", "in_progress", "reopened"})


class IllegalTicketTransition(ValueError):
    error_id = "illegal_ticket_transition"

    def __init__(self, current: str, wanted: str) -> None:
        allowed = ", ".join(sorted(TRANSITIONS.get(current, frozenset()))) or "none"
        super().__init__(f"a ticket in status {current!r} cannot become {wanted!r} (allowed: {allowed})")
        self.current = current
        self.wanted = wanted


def check_transition(current: str, wanted: str) -> str:
    if wanted == current:
        return wanted
    if wanted not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTicketTransition(current, wanted)
    return wanted
