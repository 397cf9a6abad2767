"""Closing calls whose end was never recorded, at start-up (see ``cti.tickets.recovery``).

Idempotent: a closed call has ``ended_at`` and is not selected again, and the closing event goes
through ``apply_call_event`` (same ``seq`` twice is a replay). Each call is closed in its own
transaction, so one call that cannot be closed does not keep the others open.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from cti.tickets.recovery import closing_event

from .tables import CallRow
from .tickets import Sessions, _timeline, apply_call_event


@dataclass(frozen=True, slots=True)
class Reconciled:
    closed: int = 0
    skipped: int = 0  # still have events waiting in the journal
    by_state: dict[str, int] = field(default_factory=dict)
    call_ids: tuple[str, ...] = ()


async def close_unfinished_calls(
    sessions: Sessions, now: datetime, *, skip: Collection[str] = ()
) -> Reconciled:
    """Close every call without a recorded end, except those in ``skip``."""
    async with sessions() as session:
        unfinished = list((await session.scalars(
            select(CallRow.id).where(CallRow.ended_at.is_(None)).order_by(CallRow.received_at)
        )).all())
    states: Counter[str] = Counter()
    closed: list[str] = []
    skipped = 0
    for call_id in unfinished:
        if call_id in skip:
            skipped += 1
            continue
        async with sessions() as session:
            timeline = await _timeline(session, call_id)
            if not timeline or any(e.kind == "ended" for e in timeline):
                continue
        event = closing_event(timeline, now)
        await apply_call_event(sessions, event, now)
        states[str(event.data["last_state"]["state"])] += 1
        closed.append(call_id)
    return Reconciled(len(closed), skipped, dict(states), tuple(closed))

