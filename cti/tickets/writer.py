"""Turns call events into stored timelines and tickets, through the journal, in order.

``record()`` returns once the event is durable on local disk. One task drains the journal into
the database; when the database is down it logs, counts, backs off and tries again, and the events
wait on disk in order. ``flush()`` waits until everything recorded so far is in the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog
from sqlalchemy.exc import DataError, IntegrityError, ProgrammingError, SQLAlchemyError

from cti.clock import Clock
from cti.storage.tickets import Sessions, apply_call_event
from cti.tickets.journal import Journal
from cti.tickets.rules import CallRecordEvent

log = structlog.get_logger()
BACKOFF_START_S = 0.2
BACKOFF_MAX_S = 15.0


class TicketWriter:
    def __init__(
        self,
        journal: Journal,
        sessions: Sessions,
        clock: Clock,
        *,
        on_write_error: Callable[[], None] = lambda: None,
        on_applied: Callable[[CallRecordEvent, int], None] = lambda event, ticket_id: None,
    ) -> None:
        self._journal = journal
        self._sessions = sessions
        self._clock = clock
        self._on_write_error = on_write_error
        self.on_applied = on_applied
        self._wake = asyncio.Event()
        self._progress = asyncio.Condition()
        self._failing = False

    @property
    def backlog_bytes(self) -> int:
        return self._journal.backlog_bytes

    @property
    def healthy(self) -> bool:
        return not self._failing

    async def record(self, event: CallRecordEvent) -> None:
        await asyncio.to_thread(self._journal.append, event.to_json())
        self._wake.set()

    async def flush(self) -> None:
        """Wait until every event recorded before this call is in the database.

        Waits as long as the database stays away; callers bound it with ``asyncio.timeout``.
        """
        target = self._journal.size
        async with self._progress:
            await self._progress.wait_for(
                lambda: self._journal.applied_offset >= target or self._journal.size < target
            )

    async def run(self) -> None:
        """The drain loop; runs until cancelled."""
        backoff = BACKOFF_START_S
        while True:
            try:
                drained = await self._drain_once()
            except (SQLAlchemyError, OSError) as exc:
                self._failing = True
                self._on_write_error()
                log.error(
                    "tickets.write_failed",
                    error=type(exc).__name__,
                    detail=str(exc)[:300],
                    backlog_bytes=self._journal.backlog_bytes,
                    retry_in_s=backoff,
                )
                await self._wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            if self._failing:
                log.info("tickets.write_recovered", backlog_bytes=self._journal.backlog_bytes)
                self._failing = False
            backoff = BACKOFF_START_S
            if not drained:
                self._wake.clear()
                if self._journal.backlog_bytes == 0:
                    await self._wake.wait()

    async def _apply(self, record: dict[str, object]) -> None:
        try:
            event = CallRecordEvent.from_json(record)
            ticket_id = await apply_call_event(self._sessions, event, self._clock())
        except (DataError, IntegrityError, ProgrammingError, ValueError, KeyError) as exc:
            # This record can never be stored: set it aside (kept on disk), keep the rest moving.
            self._on_write_error()
            await asyncio.to_thread(self._journal.set_aside, record, f"{type(exc).__name__}: {exc}")
            log.critical("tickets.event_set_aside", error=type(exc).__name__, detail=str(exc)[:300],
                         call_id=record.get("call_id"), kind=record.get("kind"))
            return
        if ticket_id is not None:
            self.on_applied(event, ticket_id)

    async def _wait(self, seconds: float) -> None:
        self._wake.clear()
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def _drain_once(self) -> bool:
        entries = await asyncio.to_thread(self._journal.pending)
        for entry in entries:
            if "_corrupt" in entry.record:
                log.error("tickets.journal_corrupt_line", line=entry.record["_corrupt"][:200])
            else:
                await self._apply(entry.record)
            await asyncio.to_thread(self._journal.mark_applied, entry.end_offset)
            async with self._progress:
                self._progress.notify_all()
        return bool(entries)
