"""Read-only snapshots for the API: frozen dataclasses of plain values."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OperatorView:
    operator_id: str
    state: str
    reason: str
    skills: tuple[tuple[str, int], ...]
    call_id: str | None
    since: float
    missed_in_row: int
    pending_state: str | None
    pending_reason: str | None
    wrap_up_ends_at: float | None


@dataclass(frozen=True, slots=True)
class WaitingCallView:
    call_id: str
    state: str  # queued or offered
    priority: int
    wait_s: float
    position: int | None  # 1 = next; None while ringing an operator
    level: int
    offered_to: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QueueView:
    service: str
    waiting: tuple[WaitingCallView, ...]
    longest_wait_s: float
    priority_delta: int


@dataclass(frozen=True, slots=True)
class QueueCount:
    service: str
    waiting: int
    longest_wait_s: float


@dataclass(frozen=True, slots=True)
class CallView:
    call_id: str
    service: str
    state: str
    priority: int
    caller_tag: str
    arrived_at: float
    level: int
    operator_id: str | None
    offered_to: tuple[str, ...]
    closed_at: float | None
