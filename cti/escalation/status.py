"""The escalation status machine, as one table.

``pending``: queued, not tried yet. ``failing``: the SMTP server refused or was unreachable; the
sender keeps trying with back-off. ``sent``: the mail went out. ``answered``: the answer came back
(by the reply URL or typed in by the operator); an answer may arrive before the mail went out
(the operator phoned the vendor), after which the sender leaves the escalation alone.
``uncertain``: the connection was lost after the mail's DATA was sent and before the server's
reply, so the server may have stored it (RFC 1047). It is not re-sent blindly: one retry with the
same Message-ID after a long delay, and if that is uncertain too, no more automatic tries (the
operator phones the vendor or records the answer).
"""

from __future__ import annotations

from typing import Final

STATUSES: Final = ("pending", "failing", "uncertain", "sent", "answered")

TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "pending": frozenset({"sent", "failing", "uncertain", "answered"}),
    "failing": frozenset({"sent", "failing", "uncertain", "answered"}),
    "uncertain": frozenset({"sent", "failing", "uncertain", "answered"}),
    "sent": frozenset({"answered"}),
    "answered": frozenset(),
}

OPEN: Final = frozenset({"pending", "failing", "uncertain", "sent"})  # waiting for an answer


class IllegalEscalationTransition(ValueError):
    error_id = "illegal_escalation_transition"

    def __init__(self, current: str, wanted: str) -> None:
        allowed = ", ".join(sorted(TRANSITIONS.get(current, frozenset()))) or "none"
        super().__init__(
            f"an escalation in status {current!r} cannot become {wanted!r} (allowed: {allowed})")
        self.current = current
        self.wanted = wanted


def check_transition(current: str, wanted: str) -> str:
    if wanted not in TRANSITIONS.get(current, frozenset()):
        raise IllegalEscalationTransition(current, wanted)
    return wanted
