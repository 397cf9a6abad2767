"""Flags escalations that pass their due date (counted in business hours when they were opened).

Each check lists the unanswered escalations due by now and pushes ``escalation_overdue`` once per
escalation to the ticket's operator and to the floor. What was already pushed is remembered in
this object only: after a restart each overdue escalation is pushed once more, which is the safe
side. ``GET /api/escalations?overdue=true`` is the durable view of the same thing.
"""

from __future__ import annotations

import asyncio
from datetime import tzinfo

import structlog
from sqlalchemy.exc import SQLAlchemyError

from cti.clock import Clock, wire_time_or_none
from cti.escalation.outbox import cancelled
from cti.floor.feed import ConsoleFeed
from cti.storage import escalations as store
from cti.storage.escalations import EscalationFilter, EscalationView, Sessions

log = structlog.get_logger()
CHECK_INTERVAL_S = 60.0
MAX_LISTED = 1000


class OverdueWatch:
    def __init__(self, sessions: Sessions, feed: ConsoleFeed, clock: Clock, zone: tzinfo) -> None:
        self._sessions = sessions
        self._zone = zone
        self._feed = feed
        self._clock = clock
        self._flagged: set[str] = set()

    async def check(self) -> list[EscalationView]:
        """Push the escalations that became overdue since the last check; returns them."""
        now = self._clock()
        overdue = await store.list_escalations(
            self._sessions, EscalationFilter(overdue_at=now, limit=MAX_LISTED))
        fresh = [v for v in overdue if v.reference not in self._flagged]
        for view in fresh:
            event = {"type": "escalation_overdue", "reference": view.reference,
                     "ticket_id": view.ticket_id, "ticket_reference": view.ticket_reference,
                     "target": view.target, "status": view.status,
                     "due_at": wire_time_or_none(view.due_at, self._zone)}
            if view.ticket_operator_id:
                self._feed.to_operator(view.ticket_operator_id, event)
            self._feed.to_floor(event)
            log.warning("escalation.overdue", reference=view.reference, ticket_id=view.ticket_id,
                        target=view.target)
        self._flagged = {v.reference for v in overdue}  # answered ones drop out: the set stays small
        return fresh

    async def run(self, interval_s: float = CHECK_INTERVAL_S) -> None:
        """Check every ``interval_s`` until cancelled."""
        while True:
            try:
                await self.check()
            except (SQLAlchemyError, OSError) as exc:
                if cancelled():  # a driver turned our cancellation into its own error
                    raise asyncio.CancelledError from exc
                log.error("escalation.overdue_check_failed", error=type(exc).__name__,
                          detail=str(exc)[:300])
            await asyncio.sleep(interval_s)
