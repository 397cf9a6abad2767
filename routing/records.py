"""The router's mutable bookkeeping for one call and one operator (internal)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .call_state import CallState
from .operator_state import OperatorState

#: Sort key of a waiting call inside its service: (-base priority, arrival seq, call id).
CallKey = tuple[int, int, str]


@dataclass(slots=True)
class CallRecord:
    call_id: str
    service: str
    caller_tag: str
    base_priority: int
    seq: int
    arrived_at: float
    state: CallState = CallState.IVR
    level: int = 0
    offered_to: list[str] = field(default_factory=list)
    missed_by: set[str] = field(default_factory=set)
    taken: bool = False
    ring_deadline: float | None = None
    next_announce_at: float | None = None
    operator_id: str | None = None
    connected_at: float | None = None
    closed_at: float | None = None

    @property
    def key(self) -> CallKey:
        return (-self.base_priority, self.seq, self.call_id)


@dataclass(slots=True)
class OperatorRecord:
    operator_id: str
    order: int
    skills: dict[str, int]
    state: OperatorState = OperatorState.OFFLINE
    reason: str = ""
    since: float = 0.0
    idle_since: float = 0.0
    call_id: str | None = None
    missed_in_row: int = 0
    pending: tuple[OperatorState, str] | None = None
    wrap_up_ends_at: float | None = None
    wrap_up_extended: bool = False
    wrap_up_service: str | None = None
