"""Closing calls whose end was never recorded, at start-up (see ``cti.tickets.recovery``).

Idempotent: a closed call has ``ended_at`` and is not selected again, and the closing event goes
through ``apply_call_events`` (same ``seq`` twice is a replay). The closing events are stored in
batches, one transaction each, so that a restart after a crash in a busy hour is quick; a batch
the database refuses is retried call by call, and a call that cannot be closed stays open (counted
in ``Reconciled.failed``) without keeping the others open.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from cti.tickets.recovery import closing_event, owner

from .tables import CallRow
from .tickets import Sessions, _timeline, apply_call_events

BATCH = 200


@dataclass(frozen=True, slots=True)
class Reconciled:
    closed: int = 0
    skipped: int = 0  # still have events waiting in the journal
    by_state: dict[str, int] = field(default_factory=dict)
    call_ids: tuple[str, ...] = ()
    failed: int = 0


async def close_unfinished_calls(
    sessions: Sessions, now: datetime, *, skip: Collection[str] = (),
    owned: Callable[[str | None], bool] | None = None, seq_gap: int = 1,
    guard: Callable[[AsyncSession], Awaitable[None]] | None = None,
) -> Reconciled:
    """Close every call without a recorded end, except those in ``skip``.

    HA pair: ``owned`` limits it to the calls of the nodes it accepts (None: from before HA),
    ``guard`` (the fencing check) runs in every closing transaction, ``seq_gap`` see
    ``closing_event``."""
    async with sessions() as session:
        unfinished = list((await session.scalars(
            select(CallRow.id).where(CallRow.ended_at.is_(None)).order_by(CallRow.received_at)
        )).all())
    states: Counter[str] = Counter()
    closing = []
    skipped = 0
    for call_id in unfinished:
        if call_id in skip:
            skipped += 1
            continue
        async with sessions() as session:
            timeline = await _timeline(session, call_id)
        if owned is not None and not owned(owner(timeline)):
            continue
        if timeline and not any(e.kind == "ended" for e in timeline):
            closing.append(closing_event(timeline, now, seq_gap=seq_gap))
    closed: list[str] = []
    for start in range(0, len(closing), BATCH):  # one transaction per batch, not per call
        batch = closing[start:start + BATCH]
        try:
            await apply_call_events(sessions, batch, now, guard=guard)
            done = batch
        except (DataError, IntegrityError, StatementError):  # find the one call that cannot be
            done = []                                        # closed; the others are
            for event in batch:
                try:
                    await apply_call_events(sessions, [event], now, guard=guard)
                    done.append(event)
                except (DataError, IntegrityError, StatementError):
                    continue
        for event in done:
            states[str(event.data["last_state"]["state"])] += 1
            closed.append(event.call_id)
    return Reconciled(len(closed), skipped, dict(states), tuple(closed),
                      len(closing) - len(closed))

